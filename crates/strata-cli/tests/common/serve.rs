//! `strata serve --dir DIR` started by a test on 127.0.0.1, killed on drop.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The token `strata serve` requires for pushes in the Nix tests.
pub const PUSH_TOKEN: &str = "push-token-for-nix-tests";

/// Starts `strata serve --dir DIR --listen ADDR EXTRA…` with `envs`; returns the process and the
/// base URL it prints first (with the port the OS picked for port 0), without a trailing `/`.
pub fn spawn(dir: &Path, listen: &str, extra: &[&str], envs: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--dir"])
        .arg(dir)
        .args(["--listen", listen])
        .args(extra)
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start strata serve");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&line).into_owned();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("strata serve did not say where it listens: {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (child, url)
}

pub struct Serve {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:41235`.
    pub url: String,
}

impl Serve {
    /// On a free port, pushes taking [`PUSH_TOKEN`].
    pub fn start(dir: &Path) -> Serve {
        let (child, url) = spawn(
            dir,
            "127.0.0.1:0",
            &[],
            &[("STRATA_SERVE_TOKEN", PUSH_TOKEN)],
        );
        Serve { child, url }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
