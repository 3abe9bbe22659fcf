//! A canonical `CARGO_HOME` path.
//!
//! Cargo's fingerprints hash the absolute path of registry sources
//! (`$CARGO_HOME/registry/src/…`), so artifacts built under one `CARGO_HOME` are all stale under
//! another (`PathToSourceChanged`). strata runs cargo with `CARGO_HOME` set to one fixed path, a
//! symlink to the user's real cargo home: cargo does not canonicalize it, so every machine sees the
//! same registry paths, as Nix does with store paths. Config, credentials and caches stay where
//! they are because the link points at them.

use std::path::{Path, PathBuf};

/// The fixed link path, the same on every machine (override with `STRATA_CARGO_HOME_LINK`).
pub const DEFAULT_LINK: &str = "/tmp/strata-cargo-home";

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("cannot find the cargo home: neither CARGO_HOME nor HOME is set")]
    NoHome,
    #[error("cannot point {link} at {target}: {source}")]
    Link {
        link: PathBuf,
        target: PathBuf,
        source: std::io::Error,
    },
    #[error("{link} exists and is not a symlink; strata will not replace it")]
    NotALink { link: PathBuf },
}

/// The cargo home strata hands to cargo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalHome {
    /// What cargo is told (`CARGO_HOME`).
    pub path: PathBuf,
    /// Where the files really are.
    pub real: PathBuf,
}

impl CanonicalHome {
    /// The user's real cargo home: `$CARGO_HOME`, else `$HOME/.cargo`. When `$CARGO_HOME` already is
    /// the canonical link (strata inside strata), follow it.
    pub fn real_home(link: &Path) -> Result<PathBuf, HomeError> {
        let home = match std::env::var_os("CARGO_HOME") {
            Some(h) if !h.is_empty() => PathBuf::from(h),
            _ => std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cargo"))
                .ok_or(HomeError::NoHome)?,
        };
        if home == link
            && let Ok(target) = std::fs::read_link(link)
        {
            return Ok(target);
        }
        Ok(home)
    }

    pub fn link_path() -> PathBuf {
        std::env::var_os("STRATA_CARGO_HOME_LINK")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_LINK))
    }

    /// Make `link` a symlink to the real cargo home. Replaces a link that points elsewhere
    /// atomically (a new link, then rename), so concurrent strata runs never see it missing.
    pub fn prepare() -> Result<CanonicalHome, HomeError> {
        let link = Self::link_path();
        let real = Self::real_home(&link)?;
        Self::prepare_at(&link, &real)
    }

    pub fn prepare_at(link: &Path, real: &Path) -> Result<CanonicalHome, HomeError> {
        let err = |source| HomeError::Link {
            link: link.to_path_buf(),
            target: real.to_path_buf(),
            source,
        };
        // Cargo creates the home on demand; the link needs an existing target to be useful.
        std::fs::create_dir_all(real).map_err(err)?;
        match std::fs::symlink_metadata(link) {
            Ok(m) if m.file_type().is_symlink() => {
                if std::fs::read_link(link).ok().as_deref() == Some(real) {
                    return Ok(CanonicalHome {
                        path: link.to_path_buf(),
                        real: real.to_path_buf(),
                    });
                }
            }
            Ok(_) => {
                return Err(HomeError::NotALink {
                    link: link.to_path_buf(),
                });
            }
            Err(_) => {}
        }
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        let tmp = link.with_extension(format!(
            "tmp{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        std::os::unix::fs::symlink(real, &tmp).map_err(err)?;
        if let Err(e) = std::fs::rename(&tmp, link) {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(e));
        }
        Ok(CanonicalHome {
            path: link.to_path_buf(),
            real: real.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_and_repoints_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let link = dir.path().join("links/home");
        let h = CanonicalHome::prepare_at(&link, &a).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), a);
        assert_eq!(h.path, link);
        CanonicalHome::prepare_at(&link, &b).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), b);
    }

    #[test]
    fn refuses_to_replace_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("home");
        std::fs::create_dir(&link).unwrap();
        let e = CanonicalHome::prepare_at(&link, &dir.path().join("real")).unwrap_err();
        assert!(matches!(e, HomeError::NotALink { .. }), "{e}");
    }
}
