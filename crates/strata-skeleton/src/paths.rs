//! Lexical path handling: skeleton files are keyed relative to the workspace root so the digest
//! does not depend on where the workspace is checked out.

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::SkeletonError;

/// Removes `.` and folds `..` without touching the file system, as cargo does for path
/// dependencies (so our keys agree with the paths in metadata).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` relative to `root`, '/'-separated, possibly starting with "../".
pub(crate) fn rel_key(path: &Path, root: &Path) -> Result<String, SkeletonError> {
    let err = |problem| SkeletonError::Path {
        path: path.to_path_buf(),
        root: root.to_path_buf(),
        problem,
    };
    if !path.is_absolute() || !root.is_absolute() {
        return Err(err("not an absolute path"));
    }
    let p = normalize(path);
    let r = normalize(root);
    let pc: Vec<Component> = p.components().collect();
    let rc: Vec<Component> = r.components().collect();
    let common = pc.iter().zip(&rc).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; rc.len() - common];
    for c in &pc[common..] {
        match c {
            Component::Normal(s) => parts.push(s.to_str().ok_or_else(|| err("not valid UTF-8"))?),
            _ => return Err(err("on another drive or prefix")),
        }
    }
    if parts.is_empty() {
        return Err(err("is the workspace root itself, not a file in it"));
    }
    Ok(parts.join("/"))
}

/// `dest` followed by the components of the absolute path `abs`.
pub(crate) fn mirror(dest: &Path, abs: &Path) -> PathBuf {
    let mut out = dest.to_path_buf();
    for c in normalize(abs).components() {
        match c {
            Component::Normal(s) => out.push(s),
            // A Windows drive prefix becomes a plain directory name ("C:" → "C").
            Component::Prefix(p) => {
                let name: String = p
                    .as_os_str()
                    .to_string_lossy()
                    .chars()
                    .filter(|ch| ch.is_alphanumeric())
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
            _ => {}
        }
    }
    out
}

/// Joins the key `rel` to the mirrored root, refusing to climb out of `dest`.
pub(crate) fn resolve_rel(
    dest: &Path,
    root_in_dest: &Path,
    rel: &str,
    root: &Path,
) -> Result<PathBuf, SkeletonError> {
    let mut out = root_in_dest.to_path_buf();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out == dest || !out.pop() {
                    return Err(SkeletonError::Path {
                        path: PathBuf::from(rel),
                        root: root.to_path_buf(),
                        problem: "climbs above the destination directory",
                    });
                }
            }
            s => out.push(s),
        }
    }
    Ok(out)
}

/// The file's bytes, or None if it does not exist (or is not a file).
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, SkeletonError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound
                    | io::ErrorKind::IsADirectory
                    | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(source) => Err(SkeletonError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_key_climbs_out_of_the_root() {
        let root = Path::new("/a/b/proj");
        assert_eq!(
            rel_key(Path::new("/a/b/proj/Cargo.toml"), root).unwrap(),
            "Cargo.toml"
        );
        assert_eq!(
            rel_key(Path::new("/a/b/shared/./x/../Cargo.toml"), root).unwrap(),
            "../shared/Cargo.toml"
        );
        assert_eq!(
            rel_key(Path::new("/.cargo/config"), root).unwrap(),
            "../../../.cargo/config"
        );
        assert!(rel_key(Path::new("rel/Cargo.toml"), root).is_err());
    }

    #[test]
    fn mirror_and_resolve_keep_relative_layout() {
        let dest = Path::new("/d");
        let r = mirror(dest, Path::new("/a/b/proj"));
        assert_eq!(r, Path::new("/d/a/b/proj"));
        let root = Path::new("/a/b/proj");
        assert_eq!(
            resolve_rel(dest, &r, "../shared/Cargo.toml", root).unwrap(),
            Path::new("/d/a/b/shared/Cargo.toml")
        );
        assert!(resolve_rel(dest, &r, "../../../../x", root).is_err());
    }
}
