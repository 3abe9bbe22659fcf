//! `strata why`: which part of the key changed since the previous build of this project.

use std::process::ExitCode;

use strata_build::Reporter;

use super::{CargoArgs, cargo_command, options};
use crate::{Cli, CliError};

pub fn run(cli: &Cli, a: &CargoArgs) -> Result<ExitCode, CliError> {
    // `strata why build --release` and `strata why --release` both work.
    let (sub, rest) = match a.args.first().map(String::as_str) {
        Some(s) if !s.starts_with('-') => (s.to_string(), a.args[1..].to_vec()),
        _ => ("build".to_string(), a.args.clone()),
    };
    let cmd = cargo_command(cli, &sub, &rest);
    let rep = Reporter::new(cmd.verbosity());
    let opts = options(cli, &a.cache)?;
    let report =
        strata_build::why(&cmd, &opts, &rep).map_err(|e| CliError::failed(e.to_string()))?;
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}
