//! What strata tells the user: messages and progress on stderr, never on stdout (cargo's).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use strata_cargo::Verbosity;

pub struct Reporter {
    pub verbosity: Verbosity,
    bars: bool,
    pub started: Instant,
}

impl Reporter {
    pub fn new(verbosity: Verbosity) -> Reporter {
        Reporter {
            verbosity,
            bars: verbosity != Verbosity::Quiet && std::io::stderr().is_terminal(),
            started: Instant::now(),
        }
    }

    /// A status line in cargo's style (`      Strata restored …`).
    pub fn status(&self, verb: &str, msg: &str) {
        if self.verbosity != Verbosity::Quiet {
            eprintln!("{verb:>12} {msg}");
        }
    }

    /// Only with `-v`; prefixed with the time since strata started, so `-v` shows where the
    /// time goes.
    pub fn detail(&self, msg: &str) {
        if self.verbosity == Verbosity::Verbose {
            let t = self.started.elapsed().as_secs_f64();
            eprintln!("{:>12} [{t:.3}s] {msg}", "Strata");
        }
    }

    /// Warnings show even with `-q`, as cargo's do.
    pub fn warn(&self, msg: &str) {
        eprintln!("warning: strata: {msg}");
    }

    /// A byte-counting progress bar; hidden when stderr is not a terminal or with `-q`.
    pub fn bar(&self, total: u64, what: &str) -> ProgressBar {
        self.styled_bar(total, what, "{msg}")
    }

    /// [`Reporter::bar`] with the rate at the end, for transfers to and from a remote, where
    /// the network sets the pace.
    pub fn rate_bar(&self, total: u64, what: &str) -> ProgressBar {
        self.styled_bar(total, what, "{bytes_per_sec}")
    }

    fn styled_bar(&self, total: u64, what: &str, tail: &str) -> ProgressBar {
        if !self.bars || total == 0 {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template(&format!(
            "{{prefix:>12.cyan.bold}} [{{bar:30}}] {{bytes}}/{{total_bytes}} {tail}"
        ))
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        bar
    }
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}
