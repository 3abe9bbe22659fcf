//! The `strata` command line: clap definitions and a dispatcher. Each subcommand lives in
//! `commands/<name>.rs` and returns `Result<ExitCode, CliError>`; errors are rendered once, in
//! `error.rs`, with the exit codes docs/cli.md lists.

mod args;
mod commands;
mod error;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use args::normalize_args;
use commands::{CargoArgs, dev, key, nix, remote, serve, store};
pub use error::{CliError, Kind};

#[derive(Parser, Debug)]
#[command(
    name = "strata",
    version,
    about = "Layered, content-addressed caching of Cargo builds",
    long_about = "Runs cargo with the dependency layer and the workspace's crate layers restored \
                  from a content-addressed store, and saves new layers after a successful build. \
                  Cargo's arguments pass through untouched: `strata build --release -p foo`."
)]
pub struct Cli {
    /// Print only warnings and errors (passed on to cargo as well)
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Say more about what strata does (passed on to cargo as well)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Store directory [default: $STRATA_STORE, else $XDG_CACHE_HOME/strata or ~/.cache/strata]
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// cargo build, with layers
    Build(CargoArgs),
    /// cargo check, with layers
    Check(CargoArgs),
    /// cargo test, with layers
    Test(CargoArgs),
    /// cargo clippy, with layers
    Clippy(CargoArgs),
    /// cargo doc, with layers (rustdoc output itself is not cached)
    Doc(CargoArgs),
    /// cargo run, with layers
    Run(CargoArgs),
    /// cargo bench, with layers
    Bench(CargoArgs),
    /// cargo nextest, with layers (`strata nextest run …`)
    Nextest(CargoArgs),
    /// Explain which part of the key changed since the previous build of this project
    Why(CargoArgs),
    /// Inspect and maintain the local store
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Hit rate, units restored and compiled, and time saved, from the store's run records
    Stats(commands::stats::StatsArgs),
    /// Write one self-contained HTML page of the run records, the biggest misses and store sizes
    Report(commands::report::ReportArgs),
    /// Prepare the dev loop: restore dev layers, pick a linker, report (`dev init`: nextest profile)
    Dev(dev::DevArgs),
    /// Print the dev loop's exports for a shell: eval "$(strata env)"
    Env(dev::SetupArgs),
    /// List what the dev loop has, lacks or fights with, each with its fix
    Doctor,
    /// Build the dependency layer of a cargo command from the skeleton (dummy sources) into the
    /// store, without building the workspace: fills a cache ahead of time (Nix's buildDepsOnly)
    Deps(CargoArgs),
    /// Nix integration (`strata nix init` writes a flake.nix)
    #[command(subcommand)]
    Nix(nix::NixCommand),
    /// Write the workspace's skeleton into DIR (used by the Nix library's buildDepsOnly)
    #[command(hide = true)]
    Skeleton(nix::SkeletonArgs),
    /// Signing keys for the remote cache
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Serve a remote cache over HTTP (for teams without object storage)
    Serve(serve::ServeArgs),
    /// The configured remote caches
    #[command(subcommand)]
    Remote(remote::RemoteCommand),
}

impl Cli {
    fn verbosity(&self) -> strata_cargo::Verbosity {
        if self.quiet {
            strata_cargo::Verbosity::Quiet
        } else if self.verbose > 0 {
            strata_cargo::Verbosity::Verbose
        } else {
            strata_cargo::Verbosity::Normal
        }
    }
}

/// The binaries' `main`. Call it from `main` only, before any other thread exists: it opens the
/// cargo home on fd 8 of this process (see [`strata_cargo::open_view`]).
pub fn main_with_args(args: Vec<OsString>) -> ExitCode {
    // Errors are reported where the canonical home is used (`CanonicalHome::prepare`), once.
    // SAFETY: no other thread exists yet and nothing in this process owns fd 8 (only an fd
    // inherited from the parent can be there).
    let _ = unsafe { strata_cargo::open_view() };
    let cli = Cli::parse_from(normalize_args(args));
    // strata's own commands print and exit, like any Unix tool: `strata store refs | head` ends
    // them quietly (Rust ignores SIGPIPE, so println! would panic on the closed pipe). Cargo
    // commands keep ignoring it, so that a closed stdout never kills strata while it saves.
    if !matches!(
        cli.command,
        Command::Build(_)
            | Command::Check(_)
            | Command::Test(_)
            | Command::Clippy(_)
            | Command::Doc(_)
            | Command::Run(_)
            | Command::Bench(_)
            | Command::Nextest(_)
            | Command::Dev(_)
            | Command::Deps(_)
            | Command::Serve(_)
    ) {
        // SAFETY: no thread has started yet; SIG_DFL is a valid disposition for SIGPIPE.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let result = match &cli.command {
        Command::Build(a) => commands::cargo::run(&cli, "build", a),
        Command::Check(a) => commands::cargo::run(&cli, "check", a),
        Command::Test(a) => commands::cargo::run(&cli, "test", a),
        Command::Clippy(a) => commands::cargo::run(&cli, "clippy", a),
        Command::Doc(a) => commands::cargo::run(&cli, "doc", a),
        Command::Run(a) => commands::cargo::run(&cli, "run", a),
        Command::Bench(a) => commands::cargo::run(&cli, "bench", a),
        Command::Nextest(a) => commands::cargo::run(&cli, "nextest", a),
        Command::Why(a) => commands::why::run(&cli, a),
        Command::Store(s) => store::run(&cli, s),
        Command::Stats(a) => commands::stats::run(&cli, a),
        Command::Report(a) => commands::report::run(&cli, a),
        Command::Dev(a) => dev::run_dev(&cli, a),
        Command::Env(a) => dev::run_env(a),
        Command::Doctor => dev::run_doctor(),
        Command::Nix(n) => nix::run(n),
        Command::Deps(a) => commands::deps::run(&cli, a),
        Command::Skeleton(a) => nix::run_skeleton(a),
        Command::Key(k) => key::run(k),
        Command::Serve(a) => serve::run(a),
        Command::Remote(r) => remote::run(r),
    };
    result.unwrap_or_else(|e| e.report())
}
