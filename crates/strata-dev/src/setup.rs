//! What the dev loop sets up for one project (the linker, the target dir, the cargo home) and
//! the shell exports that give plain cargo the same (`strata env`, `strata dev`).

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_cargo::{CanonicalHome, HomeError};

use crate::config::DevSettings;
use crate::doctor::{self, Known, VersionCache};
use crate::{DevError, LinkerChoice, Preference, shell_quote, target_env};

/// Where the project is: its workspace root and the host triple of its toolchain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub root: PathBuf,
    pub host: String,
}

impl Place {
    /// Asked of cargo and rustc in `cwd`, both at once: two processes behind rustup's proxies.
    pub fn find(cwd: &Path) -> Result<Place, DevError> {
        let (root, host) = std::thread::scope(|scope| {
            let host = scope.spawn(|| crate::host_triple(cwd));
            (crate::workspace_root(cwd), host.join())
        });
        Ok(Place {
            root: root?,
            host: host.map_err(|_| DevError::Panicked("asking rustc for the host triple"))??,
        })
    }
}

/// What the dev loop sets up for the project in `cwd`.
#[derive(Debug)]
pub struct Setup {
    pub cwd: PathBuf,
    pub linker: LinkerChoice,
    /// A target dir shared by every worktree (`--shared-target-dir`).
    pub target_dir: Option<PathBuf>,
    pub cargo_home: Result<CanonicalHome, HomeError>,
    /// Found only when something needs it (a linker setting, `--write`, an error to report);
    /// an error is kept to be reported again.
    place: OnceCell<Result<Place, Arc<DevError>>>,
}

impl Setup {
    /// Probe the linkers of `pref` with this toolchain, find the shared target dir when asked,
    /// and prepare the canonical cargo home.
    pub fn new(cwd: PathBuf, pref: Preference, shared_target_dir: bool) -> Result<Setup, DevError> {
        let linker = crate::linker::choose(pref, &cwd)?;
        let target_dir = if shared_target_dir {
            Some(crate::shared_target_dir(&cwd)?)
        } else {
            None
        };
        Ok(Setup::with(
            cwd,
            linker,
            target_dir,
            CanonicalHome::prepare(),
        ))
    }

    /// From parts already decided.
    pub fn with(
        cwd: PathBuf,
        linker: LinkerChoice,
        target_dir: Option<PathBuf>,
        cargo_home: Result<CanonicalHome, HomeError>,
    ) -> Setup {
        Setup {
            cwd,
            linker,
            target_dir,
            cargo_home,
            place: OnceCell::new(),
        }
    }

    /// The workspace root and host triple, asked once.
    pub fn place(&self) -> Result<&Place, DevError> {
        self.place
            .get_or_init(|| Place::find(&self.cwd).map_err(Arc::new))
            .as_ref()
            .map_err(|e| DevError::Again(Arc::clone(e)))
    }

    /// The project's `.cargo/config.toml` and what `--write` puts into it.
    pub fn config(&self) -> Result<(PathBuf, DevSettings), DevError> {
        let place = self.place()?;
        Ok((
            place.root.join(".cargo").join("config.toml"),
            DevSettings {
                host: place.host.clone(),
                linker: self.linker.linker,
                target_dir: self.target_dir.clone(),
            },
        ))
    }

    /// The exports for a shell, in order; `written`: leave out what `--write` put into the
    /// project's config. `dev_env` is the variable that turns on strata's dev mode.
    pub fn exports(&self, written: bool, dev_env: &str) -> Result<Vec<(String, String)>, DevError> {
        let mut out = Vec::new();
        let real = || CanonicalHome::real_home().ok();
        if let Some(home) = cargo_home_export(&self.cargo_home, real) {
            out.push(("CARGO_HOME".into(), home.display().to_string()));
        }
        out.push(("CARGO_INCREMENTAL".into(), "1".into()));
        out.push((dev_env.into(), "1".into()));
        if !written {
            if let Some(dir) = &self.target_dir {
                out.push(("CARGO_TARGET_DIR".into(), dir.display().to_string()));
            }
            let flags = self.linker.linker.rustflags();
            // The place is asked only here: without linker flags no process runs.
            if !flags.is_empty() {
                let place = self.place()?;
                if !sets_linker(&crate::doctor::config_files(&place.root)) {
                    out.push((target_env(&place.host, "RUSTFLAGS"), flags.join(" ")));
                }
            }
        }
        Ok(out)
    }
}

/// What a workspace read beside the doctor (`strata dev`'s restore) learned already, so that
/// the doctor does not ask again.
#[derive(Debug, Clone)]
pub struct Read<'a> {
    pub root: &'a Path,
    pub host: &'a str,
    /// What `cargo -V` answered.
    pub cargo_v: &'a str,
    /// `rustc --print sysroot`, when known.
    pub sysroot: Option<&'a Path>,
    /// Where tools' answers are kept between runs ([`VersionCache::STORE_CACHE`] in the store).
    pub versions: PathBuf,
}

impl Setup {
    /// Start the doctor on a thread of its own: with what `read` learned and the tools' kept
    /// answers, else (nothing was read) for the place asked here, every tool asked. An error
    /// when the place cannot be found (not a cargo project).
    pub fn spawn_doctor(&self, read: Option<Read<'_>>) -> Result<doctor::Running, DevError> {
        let (place, known, versions) = match read {
            Some(r) => (
                Place {
                    root: r.root.to_path_buf(),
                    host: r.host.to_string(),
                },
                Known {
                    cargo_v: Some(r.cargo_v.to_string()),
                    sysroot: r.sysroot.map(Path::to_path_buf),
                },
                VersionCache::in_dir(r.versions),
            ),
            None => (self.place()?.clone(), Known::default(), VersionCache::off()),
        };
        Ok(doctor::spawn(self.cwd.clone(), place, known, versions))
    }
}

/// `CARGO_HOME` for a shell: the canonical link when strata holds it; nothing when the link is
/// turned off; else (the link taken, or no view) the real home from `real`, also when the
/// shell's `CARGO_HOME` is the link today.
pub fn cargo_home_export(
    home: &Result<CanonicalHome, HomeError>,
    real: impl FnOnce() -> Option<PathBuf>,
) -> Option<PathBuf> {
    match home {
        Ok(home) => Some(home.path.clone()),
        Err(HomeError::Off) => None,
        Err(_) => real(),
    }
}

/// Does one of these cargo config files choose a linker with `-fuse-ld` (e.g. after
/// `--write`)? Then exporting RUSTFLAGS would override it for nothing.
pub fn sets_linker(files: &[PathBuf]) -> bool {
    files
        .iter()
        .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("-fuse-ld=")))
}

/// The shell line that opens fd 8 on the real cargo home, which the canonical link resolves to
/// in every process started from that shell.
pub fn view_line(home: &CanonicalHome) -> String {
    format!(
        "exec {}<{}",
        strata_cargo::VIEW_FD,
        shell_quote(&home.real.display().to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Linker;

    fn home() -> CanonicalHome {
        CanonicalHome {
            path: PathBuf::from("/tmp/strata-cargo-home"),
            real: PathBuf::from("/home/u/my cargo"),
        }
    }

    #[test]
    fn cargo_home_is_the_link_nothing_when_off_else_the_real_home() {
        let real = || Some(PathBuf::from("/home/u/.cargo"));
        assert_eq!(
            cargo_home_export(&Ok(home()), real),
            Some(PathBuf::from("/tmp/strata-cargo-home"))
        );
        assert_eq!(cargo_home_export(&Err(HomeError::Off), real), None);
        let taken = HomeError::Taken {
            link: PathBuf::from("/tmp/strata-cargo-home"),
            why: "someone else's".into(),
        };
        assert_eq!(
            cargo_home_export(&Err(taken), real),
            Some(PathBuf::from("/home/u/.cargo"))
        );
        assert_eq!(cargo_home_export(&Err(HomeError::NoHome), || None), None);
    }

    #[test]
    fn view_line_opens_fd_8_on_the_quoted_real_home() {
        assert_eq!(view_line(&home()), "exec 8<'/home/u/my cargo'");
    }

    #[test]
    fn a_config_with_fuse_ld_sets_the_linker() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.toml");
        std::fs::write(&plain, "[build]\njobs = 2\n").unwrap();
        let mold = dir.path().join("mold.toml");
        std::fs::write(
            &mold,
            "[target.x86_64-unknown-linux-gnu]\nrustflags = [\"-C\", \"link-arg=-fuse-ld=mold\"]\n",
        )
        .unwrap();
        let absent = dir.path().join("absent.toml");
        assert!(!sets_linker(&[plain.clone(), absent.clone()]));
        assert!(sets_linker(&[plain, absent, mold]));
        assert!(!sets_linker(&[]));
    }

    /// A package in a tempdir: the place is asked of the real cargo and rustc.
    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"p\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
        dir
    }

    fn setup(cwd: &Path, linker: Linker, target_dir: Option<&str>) -> Setup {
        let choice = LinkerChoice {
            linker,
            probes: Vec::new(),
        };
        Setup::with(
            cwd.to_path_buf(),
            choice,
            target_dir.map(PathBuf::from),
            Err(HomeError::Off),
        )
    }

    fn names(exports: &[(String, String)]) -> Vec<&str> {
        exports.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn exports_leave_out_what_the_config_already_has() {
        let dir = project();
        let s = setup(dir.path(), Linker::Mold, Some("/shared/target"));
        let host = s.place().unwrap().host.clone();
        let flags_var = target_env(&host, "RUSTFLAGS");
        let all = s.exports(false, "STRATA_DEV").unwrap();
        assert_eq!(
            names(&all),
            [
                "CARGO_INCREMENTAL",
                "STRATA_DEV",
                "CARGO_TARGET_DIR",
                flags_var.as_str()
            ]
        );
        assert_eq!(all[2].1, "/shared/target");
        assert_eq!(all[3].1, Linker::Mold.rustflags().join(" "));
        // What `--write` put into the config is not exported again.
        let written = s.exports(true, "STRATA_DEV").unwrap();
        assert_eq!(names(&written), ["CARGO_INCREMENTAL", "STRATA_DEV"]);
        // A config that picks a linker already: no RUSTFLAGS to override it.
        let (path, settings) = s.config().unwrap();
        assert_eq!(path, dir.path().join(".cargo/config.toml"));
        assert_eq!(settings.host, host);
        crate::config::write(&path, &settings).unwrap();
        let after = s.exports(false, "STRATA_DEV").unwrap();
        assert_eq!(
            names(&after),
            ["CARGO_INCREMENTAL", "STRATA_DEV", "CARGO_TARGET_DIR"]
        );
    }

    #[test]
    fn the_default_linker_exports_no_flags_and_asks_nothing() {
        // Not a cargo project: asking for the place would fail, and is not needed.
        let dir = tempfile::tempdir().unwrap();
        let s = setup(dir.path(), Linker::Default, None);
        let out = s.exports(false, "STRATA_DEV").unwrap();
        assert_eq!(names(&out), ["CARGO_INCREMENTAL", "STRATA_DEV"]);
        assert!(s.place.get().is_none());
    }

    #[test]
    fn outside_a_project_the_place_error_is_kept_and_told_again() {
        let dir = tempfile::tempdir().unwrap();
        let s = setup(dir.path(), Linker::Lld, None);
        let first = s.exports(false, "STRATA_DEV").unwrap_err().to_string();
        let again = s.place().unwrap_err().to_string();
        assert_eq!(first, again);
        assert!(first.contains("cannot find the workspace root"), "{first}");
    }

    #[test]
    fn the_doctor_uses_what_the_read_learned_else_needs_a_project() {
        let here = tempfile::tempdir().unwrap();
        let s = setup(here.path(), Linker::Default, None);
        // Nothing read, not a cargo project: the place's error.
        let e = s.spawn_doctor(None).unwrap_err().to_string();
        assert!(e.contains("cannot find the workspace root"), "{e}");
        // The root, host and cargo answer of the read are the doctor's, not asked again here.
        let root = tempfile::tempdir().unwrap();
        let nextest = root.path().join(".config/nextest.toml");
        std::fs::create_dir_all(nextest.parent().unwrap()).unwrap();
        std::fs::write(&nextest, crate::nextest::QUICK_PROFILE).unwrap();
        let read = Read {
            root: root.path(),
            host: "x86_64-unknown-linux-gnu",
            cargo_v: "cargo 1.95.0 (read beside)",
            sysroot: None,
            versions: root.path().join("tool-versions"),
        };
        let findings = s.spawn_doctor(Some(read)).unwrap().wait().unwrap();
        let detail = |name: &str| {
            findings
                .iter()
                .find(|f| f.name == name)
                .map(|f| (f.status, f.detail.clone()))
        };
        assert_eq!(
            detail("cargo"),
            Some((doctor::Status::Ok, "cargo 1.95.0 (read beside)".into()))
        );
        assert_eq!(
            detail("nextest quick profile"),
            Some((doctor::Status::Ok, nextest.display().to_string()))
        );
    }
}
