//! Running child processes: timed, output captured, with a clean environment.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

use crate::error::{BenchError, Result};

/// The cargo to run: `$CARGO` when the harness itself runs under cargo (the same toolchain the
/// user picked), else `cargo` from `PATH`.
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

/// What a finished command left.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Wall time of the child, spawn to exit.
    pub secs: f64,
}

impl Output {
    /// The last `n` lines of stderr, for error messages.
    pub fn stderr_tail(&self, n: usize) -> String {
        tail(&self.stderr, n)
    }
}

pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A command builder that records what it will run, for logs and errors.
pub struct Cmd {
    inner: Command,
    shown: String,
}

/// Variables that `cargo run`/`cargo test` set for the harness itself, or that would change how
/// a workload builds (a wrapper, a target dir, a caching tool's settings), must not leak into
/// the measured builds. User settings for the network and registries stay.
fn leaks(key: &str) -> bool {
    if let Some(rest) = key.strip_prefix("CARGO_") {
        let keep = rest == "HOME"
            || rest.starts_with("NET_")
            || rest.starts_with("HTTP_")
            || rest.starts_with("REGISTRIES_")
            || rest.starts_with("REGISTRY_");
        return !keep;
    }
    // mbx and kache read their settings from `MBX_*` and `KACHE_*`: the harness sets its own.
    if key.starts_with("MBX_") || key.starts_with("KACHE_") {
        return true;
    }
    matches!(
        key,
        "RUSTC_WRAPPER"
            | "RUSTC_WORKSPACE_WRAPPER"
            | "STRATA_STORE"
            | "SCCACHE_DIR"
            | "SCCACHE_CACHE_SIZE"
            | "SCCACHE_SERVER_PORT"
    )
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        let mut inner = Command::new(program.as_ref());
        for (key, _) in std::env::vars_os() {
            if key.to_str().is_some_and(leaks) {
                inner.env_remove(&key);
            }
        }
        // Plain output so that `Compiling` lines can be counted.
        inner
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_TERM_PROGRESS_WHEN", "never")
            .stdin(Stdio::null());
        Cmd {
            inner,
            shown: program.as_ref().to_string_lossy().into_owned(),
        }
    }

    /// `cargo` with [`cargo_program`].
    pub fn cargo() -> Cmd {
        let mut c = Cmd::new(cargo_program());
        c.shown = "cargo".into();
        c
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.shown.push(' ');
        self.shown.push_str(&a.as_ref().to_string_lossy());
        self.inner.arg(a);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    pub fn dir(mut self, dir: &Path) -> Cmd {
        self.inner.current_dir(dir);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.inner.env(key, value);
        self
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Run to completion; a non-zero exit is not an error here.
    pub fn run(mut self) -> Result<Output> {
        self.inner.stdout(Stdio::piped()).stderr(Stdio::piped());
        let start = Instant::now();
        let out = self.inner.output().map_err(|source| BenchError::Spawn {
            cmd: self.shown.clone(),
            source,
        })?;
        let secs = start.elapsed().as_secs_f64();
        Ok(Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            secs,
        })
    }

    /// Run; a non-zero exit is an error carrying the end of stderr.
    pub fn run_ok(self) -> Result<Output> {
        let shown = self.shown.clone();
        let out = self.run()?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(BenchError::Command {
                cmd: shown,
                status: out.status.to_string(),
                tail: out.stderr_tail(20),
            })
        }
    }
}
