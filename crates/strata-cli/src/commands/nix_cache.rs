//! `strata nix cache …`: Nix binary caches (keys, pushing store paths to a directory).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::CliError;
use clap::{Args, Subcommand};
use strata_nixcache::{
    Compression, DirSink, ExportOptions, NixStore, ObjectSink, SecretKey, SinkError, StorePath,
    export, generate_key_pair,
};

#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// Signing keys in Nix's format (as `nix-store --generate-binary-cache-key` makes them)
    #[command(subcommand)]
    Key(KeyCommand),
    /// Write store paths (NAR, signed .narinfo, nix-cache-info) into a binary cache directory
    Push(PushArgs),
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Make a key pair: DIR/NAME.secret (signs; keep it private) and DIR/NAME.public (goes
    /// into Nix's `trusted-public-keys`)
    Generate {
        /// Key name, conventionally the cache's host and a number: `cache.example.org-1`
        #[arg(long)]
        name: String,
        /// Directory for the two key files (created if missing)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Where the cache goes: a directory (created if missing; use it as `file:///…`), or a
    /// remote URL as in STRATA_REMOTE (`http://…` for `strata serve`, `s3://…`, …), where the
    /// objects go under `nix/` (`strata serve` then serves the cache at `<url>/nix`). A push to
    /// `strata serve` takes its token from STRATA_REMOTE_TOKEN.
    #[arg(long, value_name = "DIR|URL")]
    to: String,
    /// Secret key file that signs the narinfos (`strata nix cache key generate`)
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Push everything the paths refer to as well (needed unless another substituter has it)
    #[arg(long)]
    closure: bool,
    /// NAR compression
    #[arg(long, value_name = "zstd|none", default_value = "zstd")]
    compression: String,
    /// `Priority` in nix-cache-info (lower is asked first; cache.nixos.org has 40)
    #[arg(long, default_value_t = 30)]
    priority: u32,
    /// Store paths, or symlinks to them such as `./result`
    #[arg(required = true, value_name = "STORE PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(cache: &CacheCommand) -> Result<ExitCode, CliError> {
    match cache {
        CacheCommand::Key(KeyCommand::Generate { name, out }) => key_generate(name, out),
        CacheCommand::Push(args) => push(args),
    }
    .map_err(CliError::failed)?;
    Ok(ExitCode::SUCCESS)
}

fn key_generate(name: &str, out: &Path) -> Result<(), String> {
    let (secret, public) = generate_key_pair(name).map_err(|e| e.to_string())?;
    let secret_path = out.join(format!("{name}.secret"));
    let public_path = out.join(format!("{name}.public"));
    for p in [&secret_path, &public_path] {
        if p.symlink_metadata().is_ok() {
            return Err(format!(
                "{} already exists; remove it or choose another --name/--out (a key is not \
                 replaced silently: narinfos signed with it would stop verifying)",
                p.display()
            ));
        }
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    write_new(&secret_path, &secret.to_nix_string(), 0o600)?;
    if let Err(e) = write_new(&public_path, &public.to_nix_string(), 0o644) {
        // Nothing half-written: a secret without its public half is removed again.
        let _ = std::fs::remove_file(&secret_path);
        return Err(e);
    }
    println!("secret key: {}", secret_path.display());
    println!("public key: {}", public_path.display());
    println!(
        "add to the Nix configuration of machines that use the cache:\n  trusted-public-keys = {}",
        public.to_nix_string()
    );
    Ok(())
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn push(args: &PushArgs) -> Result<(), String> {
    let compression = Compression::parse(&args.compression).ok_or_else(|| {
        format!(
            "--compression takes `zstd` or `none`, not `{}`",
            args.compression
        )
    })?;
    // Check every input before writing anything.
    let key = SecretKey::from_file(&args.key).map_err(|e| e.to_string())?;
    let store_dir = std::env::var("NIX_STORE_DIR").unwrap_or_else(|_| "/nix/store".to_string());
    let paths = args
        .paths
        .iter()
        .map(|p| StorePath::resolve(p, &store_dir))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let opts = ExportOptions {
        closure: args.closure,
        compression,
        priority: args.priority,
    };
    let report = if args.to.contains("://") {
        let token = std::env::var("STRATA_REMOTE_TOKEN").ok();
        let objects = strata_remote::BlockingObjects::open(&args.to, token, NIX_PREFIX)
            .map_err(|e| e.to_string())?;
        export(
            &NixStore::new(),
            &paths,
            &opts,
            Some(&key),
            &RemoteSink(objects),
        )
    } else {
        export(
            &NixStore::new(),
            &paths,
            &opts,
            Some(&key),
            &DirSink::new(Path::new(&args.to)),
        )
    }
    .map_err(|e| format!("pushing to {}: {e}", args.to))?;
    for p in &report.written {
        println!("pushed {p}");
    }
    println!(
        "{} paths pushed, {} already in {} ({} bytes written)",
        report.written.len(),
        report.skipped.len(),
        args.to,
        report.bytes_written
    );
    Ok(())
}

/// Where a Nix binary cache lives on a remote: `strata serve` answers `<url>/nix/nix-cache-info`,
/// so `<url>/nix` is the substituter URL.
const NIX_PREFIX: &str = "nix/";

struct RemoteSink(strata_remote::BlockingObjects);

impl ObjectSink for RemoteSink {
    fn exists(&self, key: &str) -> Result<bool, SinkError> {
        Ok(self.0.exists(key)?)
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), SinkError> {
        Ok(self.0.put(key, bytes.to_vec())?)
    }
}
