//! Everything strata knows about invoking cargo: the command line it was given, the toolchain it
//! runs, and the canonical `CARGO_HOME` that makes registry paths identical on every machine.

mod args;
#[cfg(test)]
mod fuzz;
mod home;
pub mod messages;
pub mod program;
mod toolchain;

pub use args::{CargoCommand, Verbosity};
pub use home::{CanonicalHome, DEFAULT_LINK, HomeError, VIEW, VIEW_FD, ensure_link, open_view};
pub use toolchain::{
    Toolchain, ToolchainCache, ToolchainError, host_triple, parse_host, version_minor,
};

use std::path::PathBuf;

/// The cargo binary to run: `$CARGO` when strata runs as `cargo strata` (cargo sets it), else `cargo`.
pub fn cargo_bin() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// The rustc cargo runs: `$RUSTC` when set (a wrapper or another toolchain), else `rustc`.
pub fn rustc_bin() -> std::ffi::OsString {
    std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())
}

/// Count the units cargo reports as compiled (`Compiling`/`Checking`/`Documenting` lines) in its
/// human-readable output. Used by tests and the benchmark.
pub fn count_compiled(stderr: &str) -> usize {
    compiled_units(stderr).len()
}

/// Names (`name vX.Y.Z`) of the units cargo compiled, from its human-readable output.
pub fn compiled_units(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            ["Compiling ", "Checking ", "Documenting "]
                .iter()
                .find_map(|p| l.strip_prefix(p))
                .map(|rest| rest.split(" (").next().unwrap_or(rest).to_string())
        })
        .collect()
}
