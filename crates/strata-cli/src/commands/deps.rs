//! `strata deps`: the dependency layer of a cargo command, built from the skeleton into the
//! store without building the workspace (a pipeline that fills a cache ahead of time).

use std::process::ExitCode;

use strata_build::Reporter;

use super::{CargoArgs, cargo_command, options};
use crate::{Cli, CliError};

pub fn run(cli: &Cli, a: &CargoArgs) -> Result<ExitCode, CliError> {
    let cmd = cargo_command(cli, "build", &a.args);
    let rep = Reporter::new(cmd.verbosity());
    let opts = options(cli, &a.cache)?;
    let id = strata_build::deps_only(&cmd, &opts, &rep).map_err(CliError::failed)?;
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}
