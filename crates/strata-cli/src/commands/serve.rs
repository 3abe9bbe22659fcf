//! `strata serve`: a remote cache over HTTP, for teams without object storage.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::CliError;

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("where").required(true).args(["dir", "backend"])))]
pub struct ServeArgs {
    /// Keep objects in this directory
    #[arg(long = "dir", value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Keep objects in this backend (s3://…, redis://…, webdav+http(s)://…, file://…)
    #[arg(long, value_name = "URL")]
    backend: Option<String>,
    /// Address to listen on (port 0 picks a free port; the address is printed)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    listen: std::net::SocketAddr,
    /// Environment variable holding the token that pushes need
    #[arg(long, value_name = "VAR", default_value = "STRATA_SERVE_TOKEN")]
    token_env: String,
    /// Environment variable holding a token that reads need (reads are open without it)
    #[arg(long, value_name = "VAR")]
    read_token_env: Option<String>,
    /// Largest accepted request body
    #[arg(long, value_name = "SIZE", default_value = "1G")]
    max_body: String,
}

fn backend(a: &ServeArgs) -> Result<strata_remote::RemoteSpec, CliError> {
    match (&a.dir, &a.backend) {
        (Some(dir), _) => {
            let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            std::fs::create_dir_all(&dir)
                .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
            Ok(strata_remote::RemoteSpec {
                display: dir.display().to_string(),
                backend: strata_remote::Backend::Fs { dir },
            })
        }
        (None, Some(url)) => {
            let spec = strata_remote::RemoteSpec::parse(url)
                .map_err(|e| CliError::usage(format!("--backend: {e}")))?;
            if matches!(spec.backend, strata_remote::Backend::Serve { .. }) {
                return Err(CliError::usage(format!(
                    "--backend {url}: an http(s) URL is another strata serve"
                ))
                .help("use webdav+http(s):// for a WebDAV server"));
            }
            Ok(spec)
        }
        (None, None) => Err(CliError::usage("give --dir DIR or --backend URL")),
    }
}

fn token(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|t| !t.is_empty())
}

pub fn run(a: &ServeArgs) -> Result<ExitCode, CliError> {
    let backend = backend(a)?;
    let write_token = token(&a.token_env).ok_or_else(|| {
        CliError::config(format!(
            "${} is not set: pushes always need a token",
            a.token_env
        ))
        .help("set the push token in it, or name another variable with --token-env")
    })?;
    let read_token = match &a.read_token_env {
        Some(var) => Some(token(var).ok_or_else(|| {
            CliError::config(format!("--read-token-env {var}: ${var} is not set"))
        })?),
        None => None,
    };
    let max_body = strata_store::parse_size(&a.max_body)
        .map_err(|e| CliError::usage(format!("--max-body: {e}")))?;
    let cfg = strata_serve::ServeConfig {
        listen: a.listen,
        backend,
        write_token,
        read_token,
        max_body: usize::try_from(max_body).unwrap_or(usize::MAX),
    };
    let backend_name = cfg.backend.display.clone();
    let reads = if cfg.read_token.is_some() {
        "reads need a token"
    } else {
        "reads are open"
    };
    strata_serve::run(cfg, |addr| {
        // On stdout, so scripts (and tests) can read the port that was picked.
        println!(
            "strata serve: listening on http://{addr} (objects in {backend_name}; pushes need a token, {reads})"
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
    })
    .map_err(|e| CliError::failed(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}
