//! The toolchain cargo will use in a directory (rustup may pick one per directory).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::program;

#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    #[error("could not run `{cmd}`: {source}")]
    Spawn { cmd: String, source: std::io::Error },
    #[error("`{cmd}` failed: {stderr}")]
    Failed { cmd: String, stderr: String },
    #[error(
        "`{cmd}` printed no `host:` line, so the host triple is unknown; its output:\n{output}"
    )]
    NoHost { cmd: String, output: String },
}

/// The host triple in `rustc -vV`'s output (its `host:` line).
pub fn parse_host(rustc_vv: &str) -> Option<&str> {
    rustc_vv
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::trim)
        .filter(|h| !h.is_empty())
}

/// The host triple of the rustc that cargo would use in `dir` (`$RUSTC`, else `rustc`), from its
/// `rustc -vV`. The one place strata learns it; [`Toolchain::host`] is the same answer.
pub fn host_triple(dir: &Path) -> Result<String, ToolchainError> {
    let out = run(Command::new(crate::rustc_bin()).arg("-vV").current_dir(dir))?;
    host_from(&out)
}

fn host_from(rustc_vv: &str) -> Result<String, ToolchainError> {
    parse_host(rustc_vv)
        .map(str::to_string)
        .ok_or_else(|| ToolchainError::NoHost {
            cmd: "rustc -vV".into(),
            output: rustc_vv.trim().to_string(),
        })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// `rustc -vV` output: version, commit, host, LLVM.
    pub rustc_vv: String,
    /// `cargo -V` output.
    pub cargo_v: String,
    pub host: String,
    /// `rustc --print sysroot`, when it was asked (a toolchain from [`Toolchain::detect_cached`]
    /// with a cache has it).
    pub sysroot: Option<PathBuf>,
}

impl Toolchain {
    /// Everything that tells this toolchain from another: both version outputs.
    pub fn id(&self) -> String {
        format!("{}\n{}", self.rustc_vv.trim(), self.cargo_v.trim())
    }

    /// Cargo's minor version (`cargo 1.95.0 (…)` → 95), when `cargo -V` reads as one.
    pub fn cargo_minor(&self) -> Option<u32> {
        version_minor(&self.cargo_v)
    }

    pub fn detect(dir: &Path) -> Result<Toolchain, ToolchainError> {
        let rustc = crate::rustc_bin();
        // Two processes behind rustup's proxies: asked together.
        let (rustc_vv, cargo_v) = std::thread::scope(|scope| {
            let cargo_v =
                scope.spawn(|| run(Command::new(crate::cargo_bin()).arg("-V").current_dir(dir)));
            let rustc_vv = run(Command::new(&rustc).arg("-vV").current_dir(dir));
            let cargo_v = cargo_v
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (rustc_vv, cargo_v)
        });
        Toolchain::from_answers(rustc_vv?, cargo_v?, None)
    }

    fn from_answers(
        rustc_vv: String,
        cargo_v: String,
        sysroot: Option<PathBuf>,
    ) -> Result<Toolchain, ToolchainError> {
        Ok(Toolchain {
            host: host_from(&rustc_vv)?,
            rustc_vv,
            cargo_v,
            sysroot,
        })
    }

    /// [`Toolchain::detect`], with the answers kept in `cache` (when given) for as long as
    /// nothing that picks or makes the toolchain changes (see [`ToolchainCache`]). On a hit no
    /// process runs; on a miss `rustc --print sysroot` runs too, to know what to watch.
    pub fn detect_cached(
        dir: &Path,
        cache: Option<&ToolchainCache>,
    ) -> Result<Toolchain, ToolchainError> {
        let Some((cache, key)) = cache.and_then(|c| Some((c, ToolchainCache::key(dir)?))) else {
            return Toolchain::detect(dir);
        };
        if let Some(t) = cache.get(&key) {
            return Ok(t);
        }
        let (t, sysroot) = std::thread::scope(|scope| {
            let sysroot = scope.spawn(|| {
                run(Command::new("rustc")
                    .args(["--print", "sysroot"])
                    .current_dir(dir))
            });
            let t = Toolchain::detect(dir);
            let sysroot = sysroot
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (t, sysroot)
        });
        let t = t?;
        let Ok(sysroot) = sysroot.map(|s| PathBuf::from(s.trim())) else {
            return Ok(t);
        };
        let t = Toolchain {
            sysroot: Some(sysroot.clone()),
            ..t
        };
        // What rustup's proxies (or a wrapper) run: the toolchain's own binaries, which
        // `rustup update` replaces. Watched whatever `PATH` finds, which is in the key already:
        // a proxy that is a copy of rustup rather than a link to it would not be recognised.
        let watched = [
            sysroot.join("bin").join("rustc"),
            sysroot.join("bin").join("cargo"),
        ];
        let _ = cache.put(&key, &t, &watched);
        Ok(t)
    }
}

/// Keeps the answers of `rustc -vV`, `cargo -V` and `rustc --print sysroot` between runs, in a
/// directory of the store. Through rustup's proxies these are three process starts of 10 ms or
/// more each, on every strata command.
///
/// An entry is used only if nothing that picks the toolchain or makes its binaries changed:
/// - the key holds the directory, the environment rustup and cargo read for this (`PATH`,
///   `HOME`, `CARGO`, `RUSTUP_HOME`, `RUSTUP_TOOLCHAIN`, `CARGO_HOME`), the identity
///   (path, size, inode, mtime) of the `rustc` and `cargo` that `PATH` finds, the
///   `rust-toolchain` and `rust-toolchain.toml` files of the directory and its ancestors, and
///   rustup's `settings.toml` (default toolchain, overrides);
/// - the entry lists the toolchain's own binaries (`<sysroot>/bin/rustc` and `cargo`, what
///   rustup's proxies run), with their identities: `rustup update` replaces them.
///
/// No cache when `RUSTC` is set (a program of the user's choosing, e.g. a wrapper). A broken
/// entry is a miss.
#[derive(Debug, Clone)]
pub struct ToolchainCache {
    pub dir: PathBuf,
}

const CACHE_FORMAT: &str = "strata-toolchain-cache 2";

/// The answers kept; the binaries they depend on are watched by [`strata_fs::WatchedCache`].
#[derive(serde::Serialize, serde::Deserialize)]
struct CacheEntry {
    rustc_vv: String,
    cargo_v: String,
    sysroot: PathBuf,
}

impl ToolchainCache {
    fn key(dir: &Path) -> Option<String> {
        if std::env::var_os("RUSTC").is_some() {
            return None;
        }
        let mut h = blake3::Hasher::new();
        let mut field = |b: &[u8]| {
            h.update(&(b.len() as u64).to_le_bytes());
            h.update(b);
        };
        field(CACHE_FORMAT.as_bytes());
        field(dir.as_os_str().as_encoded_bytes());
        for var in [
            "PATH",
            "HOME",
            "CARGO",
            "RUSTUP_HOME",
            "RUSTUP_TOOLCHAIN",
            "CARGO_HOME",
        ] {
            field(var.as_bytes());
            field(std::env::var_os(var).unwrap_or_default().as_encoded_bytes());
        }
        for prog in [Path::new("rustc"), &crate::cargo_bin()] {
            field(program::identity(&program::resolve(prog)?)?.as_bytes());
        }
        let rustup_home = std::env::var_os("RUSTUP_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")))?;
        let mut files = vec![rustup_home.join("settings.toml")];
        for d in dir.ancestors() {
            files.push(d.join("rust-toolchain"));
            files.push(d.join("rust-toolchain.toml"));
        }
        for f in files {
            match std::fs::read(&f) {
                Ok(bytes) => {
                    field(b"present");
                    field(&bytes);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => field(b"absent"),
                Err(_) => return None,
            }
        }
        Some(h.finalize().to_hex().to_string())
    }

    fn entries(&self) -> strata_fs::WatchedCache {
        strata_fs::WatchedCache::new(&self.dir, CACHE_FORMAT)
    }

    #[cfg(test)]
    fn entry_path(&self, key: &str) -> PathBuf {
        self.entries().entry_path(&key[..32])
    }

    fn get(&self, key: &str) -> Option<Toolchain> {
        let bytes = self.entries().get(&key[..32])?;
        let e: CacheEntry = serde_json::from_slice(&bytes).ok()?;
        Toolchain::from_answers(e.rustc_vv, e.cargo_v, Some(e.sysroot)).ok()
    }

    /// Kept while the `watched` binaries are the same files (see [`strata_fs::Watch::Identity`]).
    fn put(
        &self,
        key: &str,
        t: &Toolchain,
        watched: &[PathBuf],
    ) -> Result<(), strata_fs::WriteError> {
        let entry = CacheEntry {
            rustc_vv: t.rustc_vv.clone(),
            cargo_v: t.cargo_v.clone(),
            sysroot: t.sysroot.clone().unwrap_or_default(),
        };
        let bytes = serde_json::to_vec(&entry).map_err(|e| strata_fs::WriteError {
            path: self.entries().entry_path(&key[..32]),
            source: std::io::Error::other(e),
        })?;
        self.entries()
            .put(&key[..32], watched, strata_fs::Watch::Identity, &bytes)
    }
}

/// The minor version of a `cargo -V` or `rustc -V` line: `cargo 1.95.0 (…)` → 95,
/// `cargo 1.97.0-nightly (…)` → 97.
pub fn version_minor(version_line: &str) -> Option<u32> {
    version_line
        .split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}

fn run(cmd: &mut Command) -> Result<String, ToolchainError> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|source| ToolchainError::Spawn {
        cmd: shown.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(ToolchainError::Failed {
            cmd: shown,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::{
        Toolchain, ToolchainCache, ToolchainError, host_triple, parse_host, version_minor,
    };

    #[test]
    fn the_host_triple_comes_from_rustc_and_never_from_a_guess() {
        assert_eq!(
            parse_host(
                "rustc 1.95.0\nbinary: rustc\nhost: aarch64-apple-darwin\nrelease: 1.95.0\n"
            ),
            Some("aarch64-apple-darwin")
        );
        assert_eq!(parse_host("rustc 1.95.0\nrelease: 1.95.0\n"), None);
        let err = Toolchain::from_answers("rustc 1.95.0\n".into(), "cargo 1.95.0".into(), None)
            .unwrap_err();
        assert!(matches!(err, ToolchainError::NoHost { .. }));
        assert_eq!(
            err.to_string(),
            "`rustc -vV` printed no `host:` line, so the host triple is unknown; its output:\nrustc 1.95.0"
        );
        // The real rustc: the same answer as the toolchain's.
        let here = std::env::current_dir().unwrap();
        let host = host_triple(&here).unwrap();
        assert_eq!(Toolchain::detect(&here).unwrap().host, host);
        assert!(host.split('-').count() >= 3, "{host}");
    }

    #[test]
    fn a_kept_toolchain_is_used_until_a_watched_binary_changes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ToolchainCache {
            dir: dir.path().join("cache"),
        };
        let bin = dir.path().join("rustc");
        std::fs::write(&bin, "one").unwrap();
        let t = Toolchain::from_answers(
            "rustc 1.95.0\nhost: x86_64-unknown-linux-gnu\n".into(),
            "cargo 1.95.0\n".into(),
            Some(dir.path().to_path_buf()),
        )
        .unwrap();
        let key = "0123456789abcdef0123456789abcdef0123";
        cache.put(key, &t, std::slice::from_ref(&bin)).unwrap();
        assert_eq!(cache.get(key), Some(t));
        // An update writes a new binary (another inode, size or mtime).
        std::fs::remove_file(&bin).unwrap();
        std::fs::write(&bin, "two!").unwrap();
        assert_eq!(cache.get(key), None);
        // A broken entry is a miss.
        std::fs::write(cache.entry_path(key), "{").unwrap();
        assert_eq!(cache.get(key), None);
    }

    #[test]
    fn a_toolchain_file_in_an_ancestor_changes_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("a").join("b");
        std::fs::create_dir_all(&project).unwrap();
        if std::env::var_os("RUSTC").is_some() {
            // A rustc of the user's choosing is never cached (checked by `key`'s first line).
            assert_eq!(ToolchainCache::key(&project), None);
            return;
        }
        let before = ToolchainCache::key(&project).expect("rustc and cargo on PATH");
        assert_eq!(ToolchainCache::key(&project).as_deref(), Some(&*before));
        std::fs::write(dir.path().join("a").join("rust-toolchain"), "stable\n").unwrap();
        let with_file = ToolchainCache::key(&project).unwrap();
        assert_ne!(with_file, before);
        std::fs::write(dir.path().join("a").join("rust-toolchain"), "nightly\n").unwrap();
        assert_ne!(ToolchainCache::key(&project).unwrap(), with_file);
    }

    #[test]
    fn minor_versions_of_version_lines() {
        assert_eq!(
            version_minor("cargo 1.95.0 (f2d3ce0bd 2026-03-21)"),
            Some(95)
        );
        assert_eq!(
            version_minor("cargo 1.97.0-nightly (0123abc 2026-06-01)"),
            Some(97)
        );
        assert_eq!(
            version_minor("rustc 1.66.1 (90743e729 2023-01-10)\n"),
            Some(66)
        );
        assert_eq!(version_minor("cargo"), None);
        assert_eq!(version_minor(""), None);
    }
}
