//! One module per subcommand (the cargo pass-through commands share `cargo.rs`; the dev loop's
//! `dev`, `env` and `doctor` share `dev.rs`), and what several of them need.

pub mod cargo;
pub mod deps;
pub mod dev;
pub mod key;
pub mod nix;
mod nix_cache;
mod nix_flake;
pub mod remote;
pub mod report;
pub mod serve;
pub mod stats;
pub mod store;
pub mod why;

use std::sync::Arc;

use clap::Args;
use strata_build::{Coverage, Options, Reporter};
use strata_cargo::CargoCommand;
use strata_store::Store;

use crate::{Cli, CliError};

/// The clap id of the trailing arguments that belong to cargo; the subcommands that have it are
/// the cargo commands (see `args.rs`).
pub const CARGO_ARGS_ID: &str = "args";

#[derive(Args, Debug, Clone)]
pub struct CacheArgs {
    /// Do not restore layers (cargo still runs; new layers are saved unless --no-save)
    #[arg(long)]
    pub no_restore: bool,
    /// Do not save layers after the build
    #[arg(long)]
    pub no_save: bool,
    /// `strata deps` only: which commands the dependency layer built from the skeleton serves,
    /// `all` (build, test, check, clippy, doc) or `build` (build and test). Other commands ignore
    /// it: they save the dependency units they used
    #[arg(long, value_name = "build|all", default_value = "all")]
    pub deps_for: String,
    /// Use only the local store: no pull from, no push to the remote caches
    #[arg(long)]
    pub no_remote: bool,
    /// For the Nix library's per-crate derivations: save the units of this package alone, as
    /// the layer `packages/<NAME>` of a store in --package-out
    #[arg(long, value_name = "NAME", hide = true, requires = "package_out")]
    pub save_package: Option<String>,
    /// The store directory --save-package saves into (created if missing)
    #[arg(long, value_name = "DIR", hide = true, requires = "save_package")]
    pub package_out: Option<std::path::PathBuf>,
    /// For the Nix library's per-crate derivations: restore the package layer that this store
    /// holds, in place and read-only, before cargo runs (repeatable)
    #[arg(long, value_name = "DIR", hide = true)]
    pub package_store: Vec<std::path::PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct CargoArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Arguments for cargo, passed through untouched (`--release`, `-p`, `--features`, `--` …)
    #[arg(
        id = CARGO_ARGS_ID,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CARGO ARGS"
    )]
    pub args: Vec<String>,
}

/// The cargo command strata runs: strata's own -q/-v apply to cargo too, as in cargo.
pub fn cargo_command(cli: &Cli, sub: &str, args: &[String]) -> CargoCommand {
    let mut args = args.to_vec();
    if cli.quiet {
        args.insert(0, "--quiet".into());
    }
    for _ in 0..cli.verbose {
        args.insert(0, "--verbose".into());
    }
    CargoCommand::parse(sub, &args)
}

pub fn options(cli: &Cli, cache: &CacheArgs) -> Result<Options, CliError> {
    let coverage = match cache.deps_for.as_str() {
        "all" => Coverage::All,
        "build" => Coverage::Build,
        other => {
            return Err(CliError::usage(format!(
                "--deps-for takes `build` or `all`, not `{other}`"
            )));
        }
    };
    Ok(Options {
        store: cli.store.clone(),
        coverage,
        restore: !cache.no_restore,
        save: !cache.no_save,
        remotes: None,
        package_stores: cache.package_store.clone(),
        save_package: cache.save_package.clone().zip(cache.package_out.clone()),
    })
}

/// The configured remotes. A bad configuration is an error (bad input); a remote that cannot
/// be set up is one warning and the build goes on with the local store.
pub fn remotes(rep: &Reporter) -> Result<Option<Arc<strata_remote::Remotes>>, CliError> {
    let cfg = strata_remote::Config::load()?;
    if cfg.remotes.is_empty() {
        return Ok(None);
    }
    match strata_remote::Remotes::new(&cfg) {
        Ok(r) => Ok(Some(Arc::new(r))),
        Err(e) => {
            rep.warn(&format!("{e}\n  building with the local store only"));
            Ok(None)
        }
    }
}

pub fn open_store(cli: &Cli) -> Result<Store, CliError> {
    let root = match &cli.store {
        Some(p) => p.clone(),
        None => Store::default_root()?,
    };
    Ok(Store::open(root)?)
}

pub fn current_dir() -> Result<std::path::PathBuf, CliError> {
    std::env::current_dir()
        .map_err(|e| CliError::failed(format!("cannot read the current directory: {e}")))
}
