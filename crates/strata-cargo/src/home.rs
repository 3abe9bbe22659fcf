//! A canonical `CARGO_HOME` path, resolved per process.
//!
//! Cargo's fingerprints hash the absolute path of registry sources
//! (`$CARGO_HOME/registry/src/…`), so artifacts built under one `CARGO_HOME` are all stale under
//! another (`PathToSourceChanged`). strata runs cargo with `CARGO_HOME=/tmp/strata-cargo-home` on
//! every machine, so every machine sees the same registry paths, as Nix does with store paths.
//!
//! That path is a symlink whose content is the same for everyone and never changes:
//! `/proc/self/fd/8`. Linux resolves `/proc/self` to the process doing the lookup, so each process
//! sees the directory that *its own* fd 8 is open on. strata opens the real cargo home on fd 8 when
//! it starts ([`open_view`]); cargo, rustc, build scripts and test binaries inherit it. A shell set
//! up by `strata env` opens it with `exec 8<…`. No run can change what another run sees, and a
//! link left by another user is never followed: only links owned by this user or root are used.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The fixed link path, the same on every machine (override with `STRATA_CARGO_HOME_LINK`).
pub const DEFAULT_LINK: &str = "/tmp/strata-cargo-home";
/// The fd every process in strata's tree holds open on the real cargo home. A single digit so
/// that POSIX shells can open it (`exec 8<dir`); 3–7 and 9 are taken by common shell idioms
/// (autoconf's configure uses 5–7, `flock` recipes 9).
pub const VIEW_FD: i32 = 8;
/// What the link says, for everyone, always.
pub const VIEW: &str = "/proc/self/fd/8";

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("cannot find the cargo home: neither CARGO_HOME nor HOME is set")]
    NoHome,
    #[error("the canonical cargo home is off (STRATA_CARGO_HOME_LINK=off)")]
    Off,
    #[error("the canonical cargo home needs Linux's /proc/self/fd, which this system lacks")]
    Unsupported,
    #[error("cannot open the cargo home {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot make the link {link}: {source}")]
    Link { link: PathBuf, source: io::Error },
    #[error("{link} is taken: {why}")]
    Taken { link: PathBuf, why: String },
    #[error(
        "CARGO_HOME is {link}, but fd 8 of this process is not open on a cargo home ({why}); \
         run `eval \"$(strata env)\"` again in this shell, or set CARGO_HOME to your cargo home"
    )]
    NoView { link: PathBuf, why: String },
    #[error("fd 8 of this process is not open on the cargo home {real}: {why}")]
    View { real: PathBuf, why: String },
}

/// The cargo home strata hands to cargo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalHome {
    /// What cargo is told (`CARGO_HOME`): the link.
    pub path: PathBuf,
    /// Where the files really are: what fd 8 is open on.
    pub real: PathBuf,
}

/// Why [`open_view`] failed, for the first caller that reports it.
static OPEN_ERROR: OnceLock<String> = OnceLock::new();

/// Where the user's cargo home is, and whether this process already holds it on fd 8.
enum Resolved {
    /// fd 8, inherited (a shell set up by `strata env`, or strata under strata).
    Inherited(PathBuf),
    /// A path to open.
    Path(PathBuf),
}

impl Resolved {
    fn path(self) -> PathBuf {
        match self {
            Resolved::Inherited(p) | Resolved::Path(p) => p,
        }
    }
}

/// The link path: `STRATA_CARGO_HOME_LINK`, else [`DEFAULT_LINK`]; `None` when it is `off`.
pub fn link_path() -> Option<PathBuf> {
    match std::env::var_os("STRATA_CARGO_HOME_LINK").filter(|v| !v.is_empty()) {
        Some(v) if v == "off" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => Some(PathBuf::from(DEFAULT_LINK)),
    }
}

fn resolve(link: Option<&Path>) -> Result<Resolved, HomeError> {
    let home = match std::env::var_os("CARGO_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cargo"))
            .ok_or(HomeError::NoHome)?,
    };
    let Some(link) = link.filter(|l| *l == home) else {
        return Ok(Resolved::Path(home));
    };
    let why = match inherited_view() {
        Ok(real) => return Ok(Resolved::Inherited(real)),
        Err(why) => why,
    };
    // A link made by an older strata points straight at a cargo home.
    if let Ok(target) = std::fs::read_link(link)
        && target != Path::new(VIEW)
        && target.is_dir()
    {
        return Ok(Resolved::Path(target));
    }
    Err(HomeError::NoView {
        link: link.to_path_buf(),
        why,
    })
}

/// The directory this process's fd 8 is open on, if it is one that still exists.
fn inherited_view() -> Result<PathBuf, String> {
    match std::fs::metadata(VIEW) {
        Ok(m) if m.is_dir() && m.nlink() > 0 => {}
        Ok(m) if m.is_dir() => return Err("the directory it was open on was deleted".into()),
        Ok(_) => return Err("fd 8 is open on something that is not a directory".into()),
        Err(_) => return Err("fd 8 is not open".into()),
    }
    std::fs::read_link(VIEW).map_err(|e| format!("cannot read {VIEW}: {e}"))
}

/// Opens the user's cargo home on fd 8 of this process, without close-on-exec, so that every
/// process strata starts resolves the link to it. Keeps an inherited fd 8 when `CARGO_HOME` is
/// the link itself. Returns the real cargo home.
///
/// # Safety
/// Call it before any other thread exists and before anything in this process owns fd 8: it
/// replaces whatever fd 8 is (an fd inherited from the parent is owned by nothing here).
pub unsafe fn open_view() -> Result<PathBuf, HomeError> {
    let r = open_view_inner();
    if let Err(e) = &r {
        let _ = OPEN_ERROR.set(e.to_string());
    }
    r
}

fn open_view_inner() -> Result<PathBuf, HomeError> {
    use std::os::fd::IntoRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let link = link_path().ok_or(HomeError::Off)?;
    if !Path::new("/proc/self/fd").is_dir() {
        return Err(HomeError::Unsupported);
    }
    let home = match resolve(Some(&link))? {
        // It survived exec, so it has no close-on-exec flag: children inherit it as it is.
        Resolved::Inherited(real) => return Ok(real),
        Resolved::Path(home) => home,
    };
    let err = |source| HomeError::Open {
        path: home.clone(),
        source,
    };
    // Cargo creates the home on demand; fd 8 needs it now.
    std::fs::create_dir_all(&home).map_err(err)?;
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(&home)
        .map_err(err)?;
    let fd = dir.into_raw_fd();
    // SAFETY: `fd` is ours (just opened, close-on-exec); per this function's contract nothing
    // else in the process owns fd 8.
    let ok = unsafe {
        if fd == VIEW_FD {
            libc::fcntl(VIEW_FD, libc::F_SETFD, 0) != -1
        } else {
            let ok = libc::dup2(fd, VIEW_FD) != -1;
            libc::close(fd);
            ok
        }
    };
    if !ok {
        return Err(err(io::Error::last_os_error()));
    }
    Ok(home)
}

impl CanonicalHome {
    /// The user's real cargo home: `$CARGO_HOME`, else `$HOME/.cargo`. When `$CARGO_HOME` is the
    /// canonical link (a shell set up by `strata env`, or strata under strata), what fd 8 is open on.
    pub fn real_home() -> Result<PathBuf, HomeError> {
        resolve(link_path().as_deref()).map(Resolved::path)
    }

    pub fn link_path() -> Option<PathBuf> {
        link_path()
    }

    /// The canonical home, once [`open_view`] has put the real home on fd 8: checks that it did,
    /// and makes the link (or finds it, or finds it taken).
    pub fn prepare() -> Result<CanonicalHome, HomeError> {
        let link = link_path().ok_or(HomeError::Off)?;
        let real = resolve(Some(&link))?.path();
        check_view(&real)?;
        ensure_link(&link)?;
        Ok(CanonicalHome { path: link, real })
    }
}

/// Does fd 8 of this process show `real`?
fn check_view(real: &Path) -> Result<(), HomeError> {
    let err = |why: String| HomeError::View {
        real: real.to_path_buf(),
        why: match OPEN_ERROR.get() {
            Some(e) => e.clone(),
            None => why,
        },
    };
    let view = std::fs::metadata(VIEW).map_err(|_| err("fd 8 is not open".into()))?;
    let home = std::fs::metadata(real).map_err(|e| err(e.to_string()))?;
    if (view.dev(), view.ino()) != (home.dev(), home.ino()) {
        return Err(err("fd 8 is open on another directory".into()));
    }
    Ok(())
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Makes `link` the view link, or says why it cannot be used. Only a link that no other user can
/// change is used: owned by this user or root, in directories that other users cannot rename it
/// out of (not writable by them, or sticky like /tmp). A link owned by this user that points
/// elsewhere (an older strata's) is replaced atomically.
pub fn ensure_link(link: &Path) -> Result<(), HomeError> {
    let me = euid();
    let taken = |why: String| HomeError::Taken {
        link: link.to_path_buf(),
        why,
    };
    let io_err = |source| HomeError::Link {
        link: link.to_path_buf(),
        source,
    };
    for dir in link.ancestors().skip(1) {
        let Ok(m) = std::fs::metadata(dir) else {
            continue;
        };
        let writable_by_others = m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0;
        if (m.uid() != me && m.uid() != 0) || writable_by_others {
            return Err(taken(format!(
                "its directory {} can be changed by another user ({}, mode {:o})",
                dir.display(),
                user_name(m.uid()),
                m.mode() & 0o7777
            )));
        }
    }
    // A few rounds: another strata may be making the same link right now.
    for _ in 0..3 {
        let m = match std::fs::symlink_metadata(link) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = link.parent() {
                    std::fs::create_dir_all(parent).map_err(io_err)?;
                }
                match std::os::unix::fs::symlink(VIEW, link) {
                    Ok(()) => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(io_err(e)),
                }
            }
            Err(e) => return Err(io_err(e)),
        };
        if !m.file_type().is_symlink() {
            let kind = if m.is_dir() { "directory" } else { "file" };
            return Err(taken(format!(
                "it is a {kind} of {}, not strata's link to {VIEW}",
                user_name(m.uid())
            )));
        }
        if m.uid() != me && m.uid() != 0 {
            return Err(taken(format!(
                "it is a link owned by another user, {}, who can change it at any time; strata \
                 follows only links owned by you or root (on a shared machine, let root make it \
                 once: `ln -s {VIEW} {}`)",
                user_name(m.uid()),
                link.display()
            )));
        }
        let target = std::fs::read_link(link).map_err(io_err)?;
        if target == Path::new(VIEW) {
            return Ok(());
        }
        if m.uid() != me {
            return Err(taken(format!(
                "it is root's link to {}, not to {VIEW}",
                target.display()
            )));
        }
        replace(link).map_err(io_err)?;
        return Ok(());
    }
    Err(io_err(io::Error::other("it keeps changing")))
}

/// Points our own `link` at the view: a new link beside it, then rename, so it is never missing.
fn replace(link: &Path) -> io::Result<()> {
    strata_fs::replace_with(link, |tmp| std::os::unix::fs::symlink(VIEW, tmp)).map_err(|e| e.source)
}

/// `name (uid N)` from /etc/passwd, else `uid N`.
fn user_name(uid: u32) -> String {
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|t| {
        t.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
    });
    match name {
        Some(n) => format!("{n} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn private_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    #[test]
    fn makes_the_view_link() {
        let dir = private_dir();
        let link = dir.path().join("links/home");
        ensure_link(&link).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(VIEW));
        // Again: found as it is.
        ensure_link(&link).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(VIEW));
    }

    #[test]
    fn replaces_an_older_strata_link_of_ours() {
        let dir = private_dir();
        let link = dir.path().join("home");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        ensure_link(&link).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(VIEW));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp link left: {names:?}");
    }

    #[test]
    fn a_directory_at_the_path_is_taken() {
        let dir = private_dir();
        let link = dir.path().join("home");
        std::fs::create_dir(&link).unwrap();
        let e = ensure_link(&link).unwrap_err();
        assert!(matches!(e, HomeError::Taken { .. }), "{e}");
        assert!(e.to_string().contains("is a directory"), "{e}");
        assert!(link.is_dir(), "left as it was");
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let dir = private_dir();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_link(&open.join("home")).unwrap_err();
        assert!(
            e.to_string().contains("can be changed by another user"),
            "{e}"
        );
        assert!(!open.join("home").exists());
        // Sticky, as /tmp is: others cannot rename our link away.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        ensure_link(&open.join("home")).unwrap();
    }

    #[test]
    fn another_users_link_is_taken_even_with_the_right_content() {
        if euid() != 0 {
            eprintln!("skipped: needs root to give a link to another user");
            return;
        }
        let dir = private_dir();
        let link = dir.path().join("home");
        std::os::unix::fs::symlink(VIEW, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(4242), Some(4242)).unwrap();
        let e = ensure_link(&link).unwrap_err();
        assert!(e.to_string().contains("owned by another user"), "{e}");
        assert!(e.to_string().contains("uid 4242"), "{e}");
    }

    #[test]
    fn user_names_come_from_passwd() {
        assert!(user_name(0).starts_with("root (uid 0)") || user_name(0) == "uid 0");
        assert_eq!(user_name(4_000_000_000), "uid 4000000000");
    }
}
