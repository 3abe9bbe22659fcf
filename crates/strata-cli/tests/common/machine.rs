//! One simulated machine of a remote-cache test: its own store, cargo home and config.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Run, World};

/// One machine: its own store, CARGO_HOME, config dir and checkout.
pub struct Machine<'w> {
    pub w: &'w World,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
}

impl<'w> Machine<'w> {
    pub fn new(w: &'w World, name: &str, remote: &str, extra: &[(String, String)]) -> Machine<'w> {
        let root = w.path(&format!("machine-{name}"));
        let home = root.join("cargo-home");
        std::fs::create_dir_all(&home).unwrap();
        let mut env = vec![
            (
                "STRATA_STORE".into(),
                root.join("store").display().to_string(),
            ),
            ("CARGO_HOME".into(), home.display().to_string()),
            (
                "XDG_CONFIG_HOME".into(),
                root.join("config").display().to_string(),
            ),
            (
                "STRATA_CONFIG".into(),
                root.join("config/none.toml").display().to_string(),
            ),
            ("STRATA_REMOTE".into(), remote.to_string()),
            // These machines push whatever CI runs the tests (a pull request's run included).
            ("STRATA_PUBLISH".into(), "always".into()),
        ];
        env.extend(extra.iter().cloned());
        Machine { w, dir: root, env }
    }

    pub fn set(&mut self, k: &str, v: &str) {
        self.env.retain(|(n, _)| n != k);
        self.env.push((k.into(), v.into()));
    }

    pub fn store(&self) -> PathBuf {
        self.dir.join("store")
    }

    pub fn run(&self, cwd: &Path, args: &[&str]) -> Run {
        let pairs: Vec<(&str, &Path)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), Path::new(v.as_str())))
            .collect();
        self.w.strata_env(cwd, args, &pairs)
    }

    pub fn command(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
        c.args(args)
            .current_dir(cwd)
            .env("STRATA_CARGO_HOME_LINK", &self.w.link)
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// A key pair for this machine: returns the public key.
    pub fn keygen(&mut self, name: &str) -> String {
        let path = self.dir.join("signing.key");
        let r = self
            .run(
                self.w.dir.path(),
                &[
                    "key",
                    "generate",
                    "--name",
                    name,
                    "--out",
                    path.to_str().unwrap(),
                ],
            )
            .ok();
        self.set("STRATA_SIGNING_KEY", path.to_str().unwrap());
        r.stdout.trim().to_string()
    }

    pub fn verify_store(&self) {
        let r = self.run(self.w.dir.path(), &["store", "verify"]);
        assert_eq!(r.code, 0, "store verify: {}\n{}", r.stdout, r.stderr);
    }
}
