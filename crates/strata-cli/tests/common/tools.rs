//! External programs the tests run. A missing one fails the test with the tool's name and how to
//! install it (what `.ci/run` does), instead of a bare "No such file" from a spawn deep inside.
#![allow(dead_code)]

use std::path::PathBuf;

/// Where `tool` is: on `PATH`, else in `~/.cargo/bin` (where `cargo install` puts Garage).
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin")))
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// The path of `tool`, which this test needs; fails the test naming it and `install` (how to get
/// it, e.g. `"apt-get install redis-server (.ci/run does this)"`) when it is not installed.
#[track_caller]
pub fn require_tool(tool: &str, install: &str) -> PathBuf {
    find_tool(tool).unwrap_or_else(|| {
        panic!("`{tool}` is not installed and this test needs it; install it with: {install}")
    })
}

/// The Nix tools the Nix tests run (all from Debian's nix-bin).
pub fn require_nix_tools() {
    for tool in [
        "nix-build",
        "nix-instantiate",
        "nix-shell",
        "nix-store",
        "nix",
    ] {
        require_tool(tool, "apt-get install nix-bin (.ci/run does this)");
    }
}
