//! `strata nix` (`init`: a flake.nix for the project; `cache`: Nix binary caches) and the hidden
//! `strata skeleton`, which the Nix library's buildDepsOnly runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{current_dir, nix_cache, nix_flake};
use crate::CliError;

/// strata has no published flake yet: `strata nix init` writes this unless told otherwise, and
/// says so.
const PLACEHOLDER_STRATA_URL: &str = "git+https://example.invalid/strata";

#[derive(Subcommand, Debug)]
pub enum NixCommand {
    /// Nix binary caches: serve store paths to `nix` as a substituter
    #[command(subcommand)]
    Cache(nix_cache::CacheCommand),
    /// Write a flake.nix (package, clippy/nextest/doc/fmt checks, dev shell) for this project
    Init {
        /// Overwrite an existing flake.nix
        #[arg(long)]
        force: bool,
        /// Flake URL of strata's Nix library
        #[arg(
            long,
            value_name = "URL",
            default_value = PLACEHOLDER_STRATA_URL
        )]
        strata_url: String,
        /// Nix system of the outputs
        #[arg(long, default_value = "x86_64-linux")]
        system: String,
    },
}

#[derive(Args, Debug)]
pub struct SkeletonArgs {
    /// Directory to create; must be new or empty
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Extra arguments for `cargo metadata` (e.g. --offline --locked)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    metadata_args: Vec<String>,
}

pub fn run(cmd: &NixCommand) -> Result<ExitCode, CliError> {
    match cmd {
        NixCommand::Cache(c) => nix_cache::run(c),
        NixCommand::Init {
            force,
            strata_url,
            system,
        } => {
            let opts = nix_flake::InitOptions {
                dir: current_dir()?,
                strata_url: strata_url.clone(),
                system: system.clone(),
                force: *force,
            };
            let path = nix_flake::init(&opts).map_err(CliError::failed)?;
            println!("wrote {}", path.display());
            if strata_url == PLACEHOLDER_STRATA_URL {
                eprintln!(
                    "note: inputs.strata.url is a placeholder ({PLACEHOLDER_STRATA_URL}); \
                     point it at your copy of strata (e.g. `path:/src/strata` or a git URL), \
                     or pass --strata-url"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn run_skeleton(a: &SkeletonArgs) -> Result<ExitCode, CliError> {
    let n = nix_flake::write_skeleton(&current_dir()?, &a.out, &a.metadata_args)
        .map_err(CliError::failed)?;
    eprintln!("wrote {n} skeleton files to {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}
