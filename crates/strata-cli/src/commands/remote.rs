//! `strata remote`: the configured remote caches.

use std::process::ExitCode;

use clap::Subcommand;

use crate::CliError;

#[derive(Subcommand, Debug)]
pub enum RemoteCommand {
    /// List the remotes, the signing key and the trusted keys, and check that every remote
    /// answers; exits non-zero when one does not
    Check {
        /// Also read every ref and what it names: manifest, signature and every blob must be
        /// there and hash right (not for `strata serve` URLs, which cannot list)
        #[arg(long)]
        deep: bool,
    },
}

pub fn run(cmd: &RemoteCommand) -> Result<ExitCode, CliError> {
    match cmd {
        RemoteCommand::Check { deep } => check(*deep),
    }
}

fn check(deep: bool) -> Result<ExitCode, CliError> {
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
    if !ok {
        return Err(CliError::remote("a remote does not answer (listed above)")
            .help("builds go on without it; check its URL, token and network"));
    }
    if deep {
        for (r, res) in remotes.check_deep() {
            match res {
                Ok(d) => {
                    for p in &d.problems {
                        ok = false;
                        println!("bad   {}: {p}", r.spec);
                    }
                    println!(
                        "deep  {}: {} refs, {} manifests, {} blobs verified",
                        r.spec, d.refs, d.manifests, d.blobs
                    );
                }
                Err(e) => {
                    ok = false;
                    println!("error {}: {e}", r.spec);
                }
            }
        }
        if !ok {
            return Err(CliError::remote(
                "a remote names objects it lacks or holds bad ones (listed above)",
            )
            .help("a push completes a layer it left incomplete; pulls refuse what is bad"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
