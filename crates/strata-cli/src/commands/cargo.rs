//! `strata build`, `check`, `test`, `clippy`, `doc`, `run`, `bench` and `nextest`: the user's
//! cargo command, run once with layers. The exit code is cargo's own; a cache problem is a
//! warning. Only bad input that stops strata before cargo runs (a bad flag value, a broken
//! config file) is an error of strata's.

use std::process::ExitCode;

use strata_build::Reporter;

use super::{CargoArgs, cargo_command, options, remotes};
use crate::{Cli, CliError};

pub fn run(cli: &Cli, sub: &str, a: &CargoArgs) -> Result<ExitCode, CliError> {
    let cmd = cargo_command(cli, sub, &a.args);
    let rep = Reporter::new(cmd.verbosity());
    let mut opts = options(cli, &a.cache)?;
    if !a.cache.no_remote {
        opts.remotes = remotes(&rep)?;
    }
    let code = strata_build::run(&cmd, &opts, &rep);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
