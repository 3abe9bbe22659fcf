//! `strata dev --write`: put the dev settings into the project's `.cargo/config.toml`, keeping
//! every other setting, comment and the layout (toml_edit).

use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, Item, Table, Value};

use crate::{DevError, Linker, io_err};

/// What `strata dev` sets up.
#[derive(Debug, Clone)]
pub struct DevSettings {
    pub host: String,
    pub linker: Linker,
    pub target_dir: Option<PathBuf>,
}

/// Write `settings` into `path` (created when missing). Returns one line per change made.
/// Invalid TOML or an unexpected shape is an error naming the file, and nothing is written.
pub fn write(path: &Path, settings: &DevSettings) -> Result<Vec<String>, DevError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| DevError::Toml {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let before = doc.to_string();
    let changes = apply(&mut doc, settings, path)?;
    // Taking a linker flag out and putting it back is no change.
    if changes.is_empty() || doc.to_string() == before {
        return Ok(Vec::new());
    }
    strata_fs::write_atomic(path, doc.to_string())?;
    Ok(changes)
}

fn table<'a>(
    parent: &'a mut Table,
    key: &str,
    path: &Path,
    full: &str,
) -> Result<&'a mut Table, DevError> {
    let item = parent.entry(key).or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    if let Item::Value(Value::InlineTable(_)) = item
        && let Some(t) = std::mem::take(item).into_table().ok()
    {
        *item = Item::Table(t);
    }
    let found = item.type_name().to_string();
    item.as_table_mut().ok_or_else(|| DevError::Shape {
        path: path.to_path_buf(),
        key: full.to_string(),
        found,
        expected: "a table".into(),
    })
}

fn is_linker_flag(flag: &str) -> bool {
    flag.contains("-fuse-ld=")
}

/// Remove `-C link-arg=-fuse-ld=…` (either spelling) from a rustflags array.
fn strip_linker_flags(flags: &mut Array) -> bool {
    let items: Vec<String> = flags
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    let mut keep = vec![true; items.len()];
    for (i, f) in items.iter().enumerate() {
        if is_linker_flag(f) {
            keep[i] = false;
            if f.starts_with("link-arg") && i > 0 && items[i - 1] == "-C" {
                keep[i - 1] = false;
            }
        }
    }
    if keep.iter().all(|k| *k) {
        return false;
    }
    let mut i = 0;
    flags.retain(|_| {
        let k = keep[i];
        i += 1;
        k
    });
    true
}

/// The rustflags array at `t[key]` (a string value becomes an array of its words).
fn flags_array<'a>(t: &'a mut Table, path: &Path, full: &str) -> Result<&'a mut Array, DevError> {
    let item = t
        .entry("rustflags")
        .or_insert_with(|| Item::Value(Value::Array(Array::new())));
    if let Some(s) = item.as_str() {
        let words: Array = s.split_whitespace().collect();
        *item = Item::Value(Value::Array(words));
    }
    let found = item.type_name().to_string();
    item.as_array_mut().ok_or_else(|| DevError::Shape {
        path: path.to_path_buf(),
        key: full.to_string(),
        found,
        expected: "an array of strings".into(),
    })
}

fn apply(doc: &mut DocumentMut, s: &DevSettings, path: &Path) -> Result<Vec<String>, DevError> {
    let mut changes = Vec::new();
    let root = doc.as_table_mut();
    {
        let build = table(root, "build", path, "build")?;
        if build.get("incremental").and_then(Item::as_bool) != Some(true) {
            build["incremental"] = toml_edit::value(true);
            changes.push("build.incremental = true".to_string());
        }
        if let Some(dir) = &s.target_dir {
            let d = dir.to_string_lossy().into_owned();
            if build.get("target-dir").and_then(Item::as_str) != Some(d.as_str()) {
                build["target-dir"] = toml_edit::value(d.clone());
                changes.push(format!("build.target-dir = \"{d}\""));
            }
        }
    }
    // Linker flags go where rustflags already live: target.<host>.rustflags replaces
    // build.rustflags in cargo, so adding the former next to the latter would drop the user's flags.
    let has_build_flags = root.get("build").and_then(|b| b.get("rustflags")).is_some();
    let target_key = format!("target.{}.rustflags", s.host);
    let has_target_flags = root
        .get("target")
        .and_then(|t| t.get(&s.host))
        .and_then(|t| t.get("rustflags"))
        .is_some();
    // Old linker flags out, wherever they are.
    if has_build_flags {
        let build = table(root, "build", path, "build")?;
        if strip_linker_flags(flags_array(build, path, "build.rustflags")?) {
            changes.push("removed the previous -fuse-ld from build.rustflags".into());
        }
    }
    if has_target_flags {
        let target = table(root, "target", path, "target")?;
        let host = table(target, &s.host, path, &format!("target.{}", s.host))?;
        if strip_linker_flags(flags_array(host, path, &target_key)?) {
            changes.push(format!("removed the previous -fuse-ld from {target_key}"));
        }
    }
    let flags = s.linker.rustflags();
    if !flags.is_empty() {
        let (arr, key) = if has_build_flags && !has_target_flags {
            let build = table(root, "build", path, "build")?;
            (
                flags_array(build, path, "build.rustflags")?,
                "build.rustflags".to_string(),
            )
        } else {
            let target = table(root, "target", path, "target")?;
            let host = table(target, &s.host, path, &format!("target.{}", s.host))?;
            host.set_implicit(false);
            (flags_array(host, path, &target_key)?, target_key.clone())
        };
        for f in &flags {
            arr.push(f.as_str());
        }
        changes.push(format!("{key} += {flags:?} ({} linker)", s.linker.name()));
    }
    // Removing the only flags leaves an empty array; cargo treats it as no flags.
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = r#"# my settings
[alias]
t = "test --workspace" # short

[build]
jobs = 2 # keep
rustflags = ["-C", "target-cpu=native", "-C", "link-arg=-fuse-ld=gold"]

[net]
retry = 3
"#;

    fn settings(linker: Linker) -> DevSettings {
        DevSettings {
            host: "x86_64-unknown-linux-gnu".into(),
            linker,
            target_dir: Some(PathBuf::from("/repo/.git/strata-target")),
        }
    }

    #[test]
    fn keeps_user_settings_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".cargo/config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, USER).unwrap();
        let changes = write(&path, &settings(Linker::Mold)).unwrap();
        assert!(!changes.is_empty());
        let out = std::fs::read_to_string(&path).unwrap();
        for kept in [
            "# my settings",
            "t = \"test --workspace\" # short",
            "jobs = 2 # keep",
            "retry = 3",
            "\"target-cpu=native\"",
        ] {
            assert!(out.contains(kept), "lost {kept:?}:\n{out}");
        }
        let doc: toml_edit::DocumentMut = out.parse().unwrap();
        let flags: Vec<&str> = doc["build"]["rustflags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            flags,
            ["-C", "target-cpu=native", "-C", "link-arg=-fuse-ld=mold"]
        );
        assert_eq!(doc["build"]["incremental"].as_bool(), Some(true));
        assert_eq!(
            doc["build"]["target-dir"].as_str(),
            Some("/repo/.git/strata-target")
        );
        // No target table was needed: build.rustflags holds the linker.
        assert!(doc.get("target").is_none(), "{out}");
        // A second write changes nothing.
        assert!(write(&path, &settings(Linker::Mold)).unwrap().is_empty());
        // Back to the default linker: the mold flag goes, the user's flags stay.
        write(&path, &settings(Linker::Default)).unwrap();
        let doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        let flags: Vec<&str> = doc["build"]["rustflags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(flags, ["-C", "target-cpu=native"]);
    }

    #[test]
    fn new_file_uses_the_host_target_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".cargo/config.toml");
        write(&path, &settings(Linker::Lld)).unwrap();
        let doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        assert_eq!(
            doc["target"]["x86_64-unknown-linux-gnu"]["rustflags"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn invalid_toml_is_an_error_and_the_file_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[build\njobs = 2\n").unwrap();
        let err = write(&path, &settings(Linker::Mold)).unwrap_err();
        assert!(err.to_string().contains("config.toml"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[build\njobs = 2\n"
        );
        std::fs::write(&path, "build = 3\n").unwrap();
        let err = write(&path, &settings(Linker::Mold)).unwrap_err();
        assert!(err.to_string().contains("`build`"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "build = 3\n");
    }
}
