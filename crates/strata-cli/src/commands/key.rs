//! `strata key`: the signing keys of the remote cache.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use strata_remote::config;

use crate::CliError;

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Make an ed25519 key pair: the secret key signs pushed layers, the public key goes into
    /// `trusted_keys` of every machine that pulls
    Generate {
        /// Key name, part of every signature (e.g. `team-ci-1`)
        #[arg(long, default_value = "strata-1")]
        name: String,
        /// Secret key file [default: $XDG_CONFIG_HOME/strata/signing.key]; the public key is
        /// written next to it with `.pub` appended
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// Replace an existing key file
        #[arg(long)]
        force: bool,
    },
    /// Print the public key of a secret key file [default: the signing key the remote
    /// configuration uses: STRATA_SIGNING_KEY, else `signing_key` in the config file, else
    /// $XDG_CONFIG_HOME/strata/signing.key]
    Public { path: Option<PathBuf> },
}

pub fn run(cmd: &KeyCommand) -> Result<ExitCode, CliError> {
    match cmd {
        KeyCommand::Generate { name, out, force } => {
            let env = |k: &str| std::env::var(k).ok();
            let path = out
                .clone()
                .or_else(|| config::default_signing_key_path(&env))
                .ok_or_else(|| {
                    CliError::config(
                        "no --out given and no HOME or XDG_CONFIG_HOME to put the key in",
                    )
                })?;
            let key = strata_remote::sign::SecretKey::generate(name)?;
            let pub_path = config::write_key_pair(&path, &key, *force)?;
            eprintln!(
                "secret key: {} (keep it private; it signs what this machine pushes)\npublic key: {} (add it to `trusted_keys` where layers are pulled)",
                path.display(),
                pub_path.display()
            );
            println!("{}", key.public().to_text());
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::Public { path } => {
            let key = match path {
                Some(p) => config::read_secret_key(p)?,
                // The same lookup as every push uses.
                None => strata_remote::Config::load()?.signing_key.ok_or_else(|| {
                    CliError::config("no signing key configured")
                        .help("`strata key generate` makes one; STRATA_SIGNING_KEY or `signing_key` in the config names another")
                })?,
            };
            println!("{}", key.public().to_text());
            Ok(ExitCode::SUCCESS)
        }
    }
}
