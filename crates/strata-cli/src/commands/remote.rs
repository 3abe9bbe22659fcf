//! `strata remote`: the configured remote caches.

use std::process::ExitCode;

use clap::Subcommand;

use crate::CliError;

#[derive(Subcommand, Debug)]
pub enum RemoteCommand {
    /// List the remotes, the signing key and the trusted keys, and check that every remote
    /// answers; exits non-zero when one does not
    Check,
    /// Print whether this run pushes (`push: <why>`) or only restores (`restore-only: <why>`),
    /// as the publish policy decides from the CI's environment; for scripts (the GitHub Action
    /// installs the signing key only when it says push)
    Policy,
}

pub fn run(cmd: &RemoteCommand) -> Result<ExitCode, CliError> {
    match cmd {
        RemoteCommand::Check => check(),
        RemoteCommand::Policy => policy(),
    }
}

fn decision(p: &strata_remote::Publish) -> String {
    let verdict = if p.push { "push" } else { "restore-only" };
    format!("{verdict}: {}", p.reason)
}

fn policy() -> Result<ExitCode, CliError> {
    let cfg = strata_remote::Config::load()?;
    println!("{}", decision(&cfg.publish));
    Ok(ExitCode::SUCCESS)
}

fn check() -> Result<ExitCode, CliError> {
    let cfg = strata_remote::Config::load()?;
    match &cfg.signing_key {
        Some(k) => println!(
            "signing key: {} ({}), pushes are signed",
            k.public().to_text(),
            cfg.signing_key_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
        None => println!("signing key: none, nothing is pushed (`strata key generate` makes one)"),
    }
    for k in &cfg.trusted {
        println!("trusted key: {}", k.to_text());
    }
    println!("publish: {}", decision(&cfg.publish));
    if cfg.remotes.is_empty() {
        println!("no remotes configured (STRATA_REMOTE or [[remote]] in the config file)");
        return Ok(ExitCode::SUCCESS);
    }
    let remotes = strata_remote::Remotes::new(&cfg, false)?;
    let mut ok = true;
    for (r, res) in remotes.check() {
        let mode = if r.push { "pull+push" } else { "pull" };
        match res {
            Ok(()) => println!("ok    {} ({mode})", r.spec),
            Err(e) => {
                ok = false;
                println!("error {} ({mode}): {e}", r.spec);
            }
        }
    }
    if ok {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::remote("a remote does not answer (listed above)")
            .help("builds go on without it; check its URL, token and network"))
    }
}
