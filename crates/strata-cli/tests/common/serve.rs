//! `strata serve --dir DIR` started by a test on 127.0.0.1 (a free port), killed on drop.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The token `strata serve` requires for pushes in these tests.
pub const PUSH_TOKEN: &str = "push-token-for-nix-tests";

pub struct Serve {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:41235`.
    pub url: String,
}

impl Serve {
    pub fn start(dir: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["serve", "--dir"])
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .env("STRATA_SERVE_TOKEN", PUSH_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start strata serve");
        // The first line names the address, with the port the OS picked.
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
        Serve { child, url }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
