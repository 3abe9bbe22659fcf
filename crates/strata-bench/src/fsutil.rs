//! Small filesystem helpers: tree copies that give new mtimes, sizes, appends.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{IoContext, Result};

/// Copy `src` to `dst` recursively. Files get the current time as mtime, as a fresh clone or
/// extraction would; symlinks are copied as symlinks. Top-level entries named in `skip` are left
/// out (a local project's `target/` and `.git/`).
pub fn copy_tree(src: &Path, dst: &Path, skip: &[&str]) -> Result<()> {
    fs::create_dir_all(dst).ctx(|| format!("creating {}", dst.display()))?;
    copy_dir(src, dst, skip)
}

fn copy_dir(src: &Path, dst: &Path, skip: &[&str]) -> Result<()> {
    let entries = fs::read_dir(src).ctx(|| format!("reading {}", src.display()))?;
    for entry in entries {
        let entry = entry.ctx(|| format!("reading {}", src.display()))?;
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| skip.contains(&n)) {
            continue;
        }
        let from = entry.path();
        let to = dst.join(&name);
        let kind = entry
            .file_type()
            .ctx(|| format!("reading {}", from.display()))?;
        if kind.is_symlink() {
            let target = fs::read_link(&from).ctx(|| format!("reading {}", from.display()))?;
            std::os::unix::fs::symlink(&target, &to)
                .ctx(|| format!("creating {}", to.display()))?;
        } else if kind.is_dir() {
            fs::create_dir_all(&to).ctx(|| format!("creating {}", to.display()))?;
            copy_dir(&from, &to, &[])?;
        } else {
            fs::copy(&from, &to)
                .ctx(|| format!("copying {} to {}", from.display(), to.display()))?;
        }
    }
    Ok(())
}

/// Total bytes of the regular files under `path` (apparent sizes, like `du -sb` without the
/// directories); 0 when it does not exist.
pub fn dir_bytes(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    let Ok(entries) = fs::read_dir(path) else {
        return 0;
    };
    entries.flatten().map(|e| dir_bytes(&e.path())).sum()
}

/// Like [`dir_bytes`], but a file with several hard links under `path` counts once (by device
/// and inode): the size of a cache that hard-links its entries (into itself or into target
/// dirs) without counting the same bytes twice.
pub fn dir_bytes_unique(path: &Path) -> u64 {
    let mut seen = std::collections::HashSet::new();
    unique_bytes(path, &mut seen)
}

/// Like [`dir_bytes_unique`], but files that are also under `beside` (the same inode: a hard
/// link between a cache and a checkout's target dir) count as the checkout's, not the cache's:
/// the disk a cache adds beyond the target dirs it fills.
pub fn dir_bytes_unique_beyond(path: &Path, beside: &Path) -> u64 {
    let mut seen = std::collections::HashSet::new();
    linked_inodes(beside, &mut seen);
    unique_bytes(path, &mut seen)
}

/// The (device, inode) of every file under `path` with more than one link.
fn linked_inodes(path: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_file() {
        if meta.nlink() > 1 {
            seen.insert((meta.dev(), meta.ino()));
        }
    } else if meta.is_dir()
        && let Ok(entries) = fs::read_dir(path)
    {
        for e in entries.flatten() {
            linked_inodes(&e.path(), seen);
        }
    }
}

fn unique_bytes(path: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return if meta.nlink() <= 1 || seen.insert((meta.dev(), meta.ino())) {
            meta.len()
        } else {
            0
        };
    }
    if !meta.is_dir() {
        return 0;
    }
    let Ok(entries) = fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| unique_bytes(&e.path(), seen))
        .sum()
}

pub fn remove_dir_if_exists(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).ctx(|| format!("removing {}", path.display())),
    }
}

/// Append `text` to a file, creating it if needed.
pub fn append(path: &Path, text: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ctx(|| format!("opening {}", path.display()))?;
    f.write_all(text.as_bytes())
        .ctx(|| format!("writing {}", path.display()))
}

/// `/`-separated relative path of `path` under `root`, for results that must not depend on
/// where a checkout sits.
pub fn rel(root: &Path, path: &Path) -> String {
    let r = path.strip_prefix(root).unwrap_or(path);
    r.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
