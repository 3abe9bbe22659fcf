use std::fmt;
use std::path::{Path, PathBuf};

use crate::Error;

/// A store path: `<store dir>/<32-char hash>-<name>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorePath {
    store_dir: String,
    base: String,
}

const HASH_LEN: usize = 32;

impl StorePath {
    /// Parse an absolute store path. A path inside a store path (`…-foo/bin/x`) is refused:
    /// a binary cache holds whole store paths.
    pub fn parse(path: &str) -> Result<StorePath, Error> {
        let bad = |reason: &str| Error::NotStorePath {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = path.trim_end_matches('/');
        let (dir, base) = trimmed
            .rsplit_once('/')
            .ok_or_else(|| bad("expected an absolute path like /nix/store/<hash>-<name>"))?;
        if !dir.starts_with('/') || dir.is_empty() {
            return Err(bad(
                "expected an absolute path like /nix/store/<hash>-<name>",
            ));
        }
        // `/nix/store/<h>-a/bin/x`: a store dir never holds a component that looks like a
        // store path's base name, so one before the last means a file inside a store path.
        if dir.split('/').any(|c| Self::check_base(c).is_ok()) {
            return Err(bad(
                "this is a file inside a store path; give the store path itself",
            ));
        }
        Self::check_base(base).map_err(|r| bad(&r))?;
        Ok(StorePath {
            store_dir: dir.to_string(),
            base: base.to_string(),
        })
    }

    /// A base name (`<hash>-<name>`) in `store_dir`.
    pub fn from_base_name(store_dir: &str, base: &str) -> Result<StorePath, Error> {
        Self::check_base(base).map_err(|reason| Error::NotStorePath {
            path: format!("{store_dir}/{base}"),
            reason,
        })?;
        Ok(StorePath {
            store_dir: store_dir.trim_end_matches('/').to_string(),
            base: base.to_string(),
        })
    }

    /// Resolve what a user typed: a store path, or a symlink to one (`./result`).
    pub fn resolve(arg: &Path, store_dir: &str) -> Result<StorePath, Error> {
        let mut p = PathBuf::from(arg);
        // Follow symlinks until the path names something in the store dir; the store path
        // itself may be a symlink, so canonicalize() would go too far.
        for _ in 0..40 {
            if let Some(s) = p.to_str()
                && s.starts_with(&format!("{}/", store_dir.trim_end_matches('/')))
            {
                return StorePath::parse(s);
            }
            match std::fs::read_link(&p) {
                Ok(target) => {
                    p = match p.parent() {
                        Some(parent) if target.is_relative() => parent.join(target),
                        _ => target,
                    };
                }
                Err(_) => break,
            }
        }
        Err(Error::NotStorePath {
            path: arg.display().to_string(),
            reason: format!("neither under {store_dir} nor a symlink to a path there"),
        })
    }

    fn check_base(base: &str) -> Result<(), String> {
        let Some((hash, name)) = base.split_at_checked(HASH_LEN) else {
            return Err("the base name is shorter than a 32-character hash".into());
        };
        if !hash
            .bytes()
            .all(|c| b"0123456789abcdfghijklmnpqrsvwxyz".contains(&c))
        {
            return Err(format!("`{hash}` is not a Nix base-32 hash"));
        }
        let Some(name) = name.strip_prefix('-') else {
            return Err("expected `-` after the 32-character hash".into());
        };
        if name.is_empty()
            || name.starts_with('.')
            || !name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"+-._?=".contains(&c))
        {
            return Err(format!("`{name}` is not a valid store path name"));
        }
        Ok(())
    }

    /// `/nix/store`
    pub fn store_dir(&self) -> &str {
        &self.store_dir
    }

    /// `<hash>-<name>`
    pub fn base_name(&self) -> &str {
        &self.base
    }

    /// The 32-character hash part, which names the path's `.narinfo`.
    pub fn hash_part(&self) -> &str {
        &self.base[..HASH_LEN]
    }

    /// The full path, as Nix prints it.
    pub fn absolute(&self) -> String {
        format!("{}/{}", self.store_dir, self.base)
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.store_dir, self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_store_paths_and_refuses_others() {
        let p = StorePath::parse("/nix/store/hlsn1afj903vqwj20ijs3flww7l9gbm8-strata-nc-app-dev")
            .unwrap();
        assert_eq!(p.store_dir(), "/nix/store");
        assert_eq!(p.hash_part(), "hlsn1afj903vqwj20ijs3flww7l9gbm8");
        assert_eq!(
            p.base_name(),
            "hlsn1afj903vqwj20ijs3flww7l9gbm8-strata-nc-app-dev"
        );
        for bad in [
            "nix/store/hlsn1afj903vqwj20ijs3flww7l9gbm8-x",
            "/nix/store/short-x",
            "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x",
            "/nix/store/hlsn1afj903vqwj20ijs3flww7l9gbm8",
            "/nix/store/hlsn1afj903vqwj20ijs3flww7l9gbm8-x/bin",
            "/nix/store/hlsn1afj903vqwj20ijs3flww7l9gbm8-a b",
        ] {
            assert!(StorePath::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn resolves_result_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let target = "/nix/store/hlsn1afj903vqwj20ijs3flww7l9gbm8-strata-nc-app-dev";
        std::os::unix::fs::symlink(target, dir.path().join("result")).unwrap();
        std::os::unix::fs::symlink("result", dir.path().join("r2")).unwrap();
        let p = StorePath::resolve(&dir.path().join("r2"), "/nix/store").unwrap();
        assert_eq!(p.absolute(), target);
        let err = StorePath::resolve(dir.path(), "/nix/store").unwrap_err();
        assert!(
            err.to_string().contains("neither under /nix/store"),
            "{err}"
        );
    }
}
