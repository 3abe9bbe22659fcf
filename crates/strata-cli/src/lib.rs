//! The `strata` command line: a thin layer over strata-build and strata-store.

mod dev;
mod nix;
mod nix_cache;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use strata_build::{Coverage, Options, Reporter, human_bytes};
use strata_cargo::CargoCommand;
use strata_store::Store;

#[derive(Parser, Debug)]
#[command(
    name = "strata",
    version,
    about = "Layered, content-addressed caching of Cargo builds",
    long_about = "Runs cargo with the dependency layer and the workspace's crate layers restored \
                  from a content-addressed store, and saves new layers after a successful build. \
                  Cargo's arguments pass through untouched: `strata build --release -p foo`."
)]
pub struct Cli {
    /// Print only warnings and errors (passed on to cargo as well)
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Say more about what strata does (passed on to cargo as well)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Store directory [default: $STRATA_STORE, else $XDG_CACHE_HOME/strata or ~/.cache/strata]
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct CacheArgs {
    /// Do not restore layers (cargo still runs; new layers are saved unless --no-save)
    #[arg(long)]
    no_restore: bool,
    /// Do not save layers after the build
    #[arg(long)]
    no_save: bool,
    /// `strata deps` only: which commands the dependency layer built from the skeleton serves,
    /// `all` (build, test, check, clippy, doc) or `build` (build and test). Other commands ignore
    /// it: they save the dependency units they used
    #[arg(long, value_name = "build|all", default_value = "all")]
    deps_for: String,
    /// Use only the local store: no pull from, no push to the remote caches
    #[arg(long)]
    no_remote: bool,
}

#[derive(Args, Debug, Clone)]
struct CargoArgs {
    #[command(flatten)]
    cache: CacheArgs,
    /// Arguments for cargo, passed through untouched (`--release`, `-p`, `--features`, `--` …)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CARGO ARGS"
    )]
    args: Vec<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// cargo build, with layers
    Build(CargoArgs),
    /// cargo check, with layers
    Check(CargoArgs),
    /// cargo test, with layers
    Test(CargoArgs),
    /// cargo clippy, with layers
    Clippy(CargoArgs),
    /// cargo doc, with layers (rustdoc output itself is not cached)
    Doc(CargoArgs),
    /// cargo run, with layers
    Run(CargoArgs),
    /// cargo bench, with layers
    Bench(CargoArgs),
    /// cargo nextest, with layers (`strata nextest run …`)
    Nextest(CargoArgs),
    /// Explain which part of the key changed since the previous build of this project
    Why(CargoArgs),
    /// Inspect and maintain the local store
    #[command(subcommand)]
    Store(StoreCommand),
    /// Prepare the dev loop: restore dev layers, pick a linker, report (`dev init`: nextest profile)
    Dev(dev::DevArgs),
    /// Print the dev loop's exports for a shell: eval "$(strata env)"
    Env(dev::SetupArgs),
    /// List what the dev loop has, lacks or fights with, each with its fix
    Doctor,
    /// Build the dependency layer of a cargo command from the skeleton (dummy sources) into the
    /// store, without building the workspace: fills a cache ahead of time (Nix's buildDepsOnly)
    Deps(CargoArgs),
    /// Nix integration (`strata nix init` writes a flake.nix)
    #[command(subcommand)]
    Nix(NixCommand),
    /// Write the workspace's skeleton into DIR (used by the Nix library's buildDepsOnly)
    #[command(hide = true)]
    Skeleton {
        /// Directory to create; must be new or empty
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Extra arguments for `cargo metadata` (e.g. --offline --locked)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        metadata_args: Vec<String>,
    },
    /// Signing keys for the remote cache
    #[command(subcommand)]
    Key(KeyCommand),
    /// Serve a remote cache over HTTP (for teams without object storage)
    Serve(ServeArgs),
    /// The configured remote caches
    #[command(subcommand)]
    Remote(RemoteCommand),
}

/// strata has no published flake yet: `strata nix init` writes this unless told otherwise, and
/// says so.
const PLACEHOLDER_STRATA_URL: &str = "git+https://example.invalid/strata";

#[derive(Subcommand, Debug)]
enum NixCommand {
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

#[derive(Subcommand, Debug)]
enum RemoteCommand {
    /// List the remotes, the signing key and the trusted keys, and check that every remote
    /// answers; exits non-zero when one does not
    Check,
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
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
    /// Print the public key of a secret key file [default: the configured signing key]
    Public { path: Option<PathBuf> },
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("where").required(true).args(["dir", "backend"])))]
struct ServeArgs {
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

#[derive(Subcommand, Debug)]
enum StoreCommand {
    /// Where the store is and what it holds
    Stats,
    /// Re-hash every blob and manifest; exits non-zero when something is wrong
    Verify,
    /// Print a layer's manifest as JSON (by ref name, e.g. `projects/…/crates`, or manifest id)
    Show { name: String },
    /// List refs and the manifests they name
    Refs,
    /// Delete least recently used layers until the store fits in SIZE
    Gc {
        /// Size budget: 500M, 10G, 1.5GiB, or bytes
        #[arg(long, value_name = "SIZE")]
        max_size: String,
    },
}

/// Subcommands whose arguments belong to cargo.
const CARGO_COMMANDS: &[&str] = &[
    "build", "check", "test", "clippy", "doc", "run", "bench", "nextest", "why", "deps",
];
/// strata's own flags of those subcommands, taking a value or not.
const OWN_FLAGS: &[(&str, bool)] = &[
    ("--no-restore", false),
    ("--no-save", false),
    ("--deps-for", true),
    ("--store", true),
    ("--no-remote", false),
];

/// Rewrite `strata [globals] <cmd> <args…>` so that strata's own flags may stand anywhere before
/// cargo's `--` and cargo's arguments reach cargo exactly as given (a leading `--` included):
/// own flags move in front, then an explicit `--` ends clap's parsing. `-h`/`--help` before a
/// `--` stays with clap, which prints strata's help for the command.
pub fn normalize_args(args: Vec<OsString>) -> Vec<OsString> {
    let mut i = 1;
    while i < args.len() {
        match args[i].to_str() {
            Some("--store") => i += 2,
            Some(a) if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    let Some(sub) = args.get(i).and_then(|a| a.to_str()) else {
        return args;
    };
    if !CARGO_COMMANDS.contains(&sub) {
        return args;
    }
    let rest = &args[i + 1..];
    let mut own = Vec::new();
    let mut cargo = Vec::new();
    let mut j = 0;
    let mut in_cargo_tail = false;
    let mut help = false;
    while j < rest.len() {
        let a = rest[j].to_string_lossy();
        if in_cargo_tail {
            cargo.push(rest[j].clone());
        } else if a == "--" {
            in_cargo_tail = true;
            cargo.push(rest[j].clone());
        } else if let Some((flag, takes)) = OWN_FLAGS
            .iter()
            .find(|(f, _)| a == *f || a.starts_with(&format!("{f}=")))
        {
            own.push(rest[j].clone());
            if *takes && a == *flag && j + 1 < rest.len() {
                j += 1;
                own.push(rest[j].clone());
            }
        } else {
            help |= a == "-h" || a == "--help";
            cargo.push(rest[j].clone());
        }
        j += 1;
    }
    let mut out: Vec<OsString> = args[..=i].to_vec();
    out.extend(own);
    if !help {
        out.push("--".into());
    }
    out.extend(cargo);
    out
}

pub fn main_with_args(args: Vec<OsString>) -> ExitCode {
    let cli = Cli::parse_from(normalize_args(args));
    let (sub, cargo_args) = match &cli.command {
        Command::Build(a) => ("build", a),
        Command::Check(a) => ("check", a),
        Command::Test(a) => ("test", a),
        Command::Clippy(a) => ("clippy", a),
        Command::Doc(a) => ("doc", a),
        Command::Run(a) => ("run", a),
        Command::Bench(a) => ("bench", a),
        Command::Nextest(a) => ("nextest", a),
        Command::Why(a) => return why(&cli, a),
        Command::Store(s) => return store(&cli, s),
        Command::Dev(a) => return dev::dev(&cli, a),
        Command::Env(a) => return dev::env(a),
        Command::Doctor => return dev::doctor(),
        Command::Nix(n) => return nix_command(n),
        Command::Deps(a) => return deps_only(&cli, a),
        Command::Skeleton { out, metadata_args } => return skeleton(out, metadata_args),
        Command::Key(k) => return key(k),
        Command::Serve(a) => return serve(a),
        Command::Remote(RemoteCommand::Check) => return remote_check(),
    };
    let cmd = cargo_command(&cli, sub, &cargo_args.args);
    let rep = Reporter::new(cmd.verbosity());
    let mut opts = match options(&cli, &cargo_args.cache) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    if !cargo_args.cache.no_remote {
        match remotes(&rep, cmd.verbosity() != strata_cargo::Verbosity::Quiet) {
            Ok(r) => opts.remotes = r,
            Err(e) => return fail(&e),
        }
    }
    let code = strata_build::run(&cmd, &opts, &rep);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn cargo_command(cli: &Cli, sub: &str, args: &[String]) -> CargoCommand {
    let mut args = args.to_vec();
    // strata's own -q/-v apply to cargo too, as the issue of "behave as in cargo" asks.
    if cli.quiet {
        args.insert(0, "--quiet".into());
    }
    for _ in 0..cli.verbose {
        args.insert(0, "--verbose".into());
    }
    CargoCommand::parse(sub, &args)
}

fn options(cli: &Cli, cache: &CacheArgs) -> Result<Options, String> {
    let coverage = match cache.deps_for.as_str() {
        "all" => Coverage::All,
        "build" => Coverage::Build,
        other => return Err(format!("--deps-for takes `build` or `all`, not `{other}`")),
    };
    Ok(Options {
        store: cli.store.clone(),
        coverage,
        restore: !cache.no_restore,
        save: !cache.no_save,
        remotes: None,
    })
}

/// The configured remotes. A bad configuration is an error (bad input); a remote that cannot
/// be set up is one warning and the build goes on with the local store.
fn remotes(
    rep: &Reporter,
    progress: bool,
) -> Result<Option<std::sync::Arc<strata_remote::Remotes>>, String> {
    let cfg = strata_remote::Config::load().map_err(|e| e.to_string())?;
    if cfg.remotes.is_empty() {
        return Ok(None);
    }
    let progress = progress && std::io::IsTerminal::is_terminal(&std::io::stderr());
    match strata_remote::Remotes::new(&cfg, progress) {
        Ok(r) => Ok(Some(std::sync::Arc::new(r))),
        Err(e) => {
            rep.warn(&format!("{e}\n  building with the local store only"));
            Ok(None)
        }
    }
}

fn remote_check() -> ExitCode {
    let cfg = match strata_remote::Config::load() {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
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
        return ExitCode::SUCCESS;
    }
    let remotes = match strata_remote::Remotes::new(&cfg, false) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
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
        ExitCode::SUCCESS
    } else {
        fail("a remote does not answer (listed above); builds go on without it")
    }
}

fn env_lookup(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

fn key(cmd: &KeyCommand) -> ExitCode {
    match cmd {
        KeyCommand::Generate { name, out, force } => {
            let Some(path) = out
                .clone()
                .or_else(|| strata_remote::config::default_signing_key_path(&env_lookup))
            else {
                return fail("no --out given and no HOME or XDG_CONFIG_HOME to put the key in");
            };
            let mut pub_path = path.clone().into_os_string();
            pub_path.push(".pub");
            let pub_path = PathBuf::from(pub_path);
            if !force && (path.exists() || pub_path.exists()) {
                return fail(&format!(
                    "{} already exists; pass --force to replace it (layers signed with the old key stop verifying where only it is trusted)",
                    path.display()
                ));
            }
            let key = match strata_remote::sign::SecretKey::generate(name) {
                Ok(k) => k,
                Err(e) => return fail(&e.to_string()),
            };
            if let Err(e) = write_secret(&path, &key.to_text()) {
                return fail(&format!("cannot write {}: {e}", path.display()));
            }
            let public = key.public().to_text();
            if let Err(e) = std::fs::write(&pub_path, format!("{public}\n")) {
                return fail(&format!("cannot write {}: {e}", pub_path.display()));
            }
            eprintln!(
                "secret key: {} (keep it private; it signs what this machine pushes)\npublic key: {} (add it to `trusted_keys` where layers are pulled)",
                path.display(),
                pub_path.display()
            );
            println!("{public}");
            ExitCode::SUCCESS
        }
        KeyCommand::Public { path } => {
            let path = match path.clone().or_else(|| {
                env_lookup("STRATA_SIGNING_KEY")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
                    .or_else(|| strata_remote::config::default_signing_key_path(&env_lookup))
            }) {
                Some(p) => p,
                None => return fail("no key file given"),
            };
            match strata_remote::config::read_secret_key(&path) {
                Ok(k) => {
                    println!("{}", k.public().to_text());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.to_string()),
            }
        }
    }
}

/// Write a secret key readable by its owner only, never half-written.
fn write_secret(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(format!("{text}\n").as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn serve(a: &ServeArgs) -> ExitCode {
    let backend = match (&a.dir, &a.backend) {
        (Some(dir), _) => {
            let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            if let Err(e) = std::fs::create_dir_all(&dir) {
                return fail(&format!("cannot create {}: {e}", dir.display()));
            }
            strata_remote::RemoteSpec {
                display: dir.display().to_string(),
                backend: strata_remote::Backend::Fs { dir },
            }
        }
        (None, Some(url)) => match strata_remote::RemoteSpec::parse(url) {
            Ok(spec) if matches!(spec.backend, strata_remote::Backend::Serve { .. }) => {
                return fail(&format!(
                    "--backend {url}: an http(s) URL is another strata serve; use webdav+http(s):// for a WebDAV server"
                ));
            }
            Ok(spec) => spec,
            Err(e) => return fail(&e.to_string()),
        },
        (None, None) => return fail("give --dir DIR or --backend URL"),
    };
    let Some(write_token) = env_lookup(&a.token_env).filter(|t| !t.is_empty()) else {
        return fail(&format!(
            "set the push token in ${} (or name another variable with --token-env): pushes always need a token",
            a.token_env
        ));
    };
    let read_token = match &a.read_token_env {
        Some(var) => match env_lookup(var).filter(|t| !t.is_empty()) {
            Some(t) => Some(t),
            None => return fail(&format!("--read-token-env {var}: ${var} is not set")),
        },
        None => None,
    };
    let max_body = match strata_store::parse_size(&a.max_body) {
        Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
        Err(e) => return fail(&format!("--max-body: {e}")),
    };
    let cfg = strata_serve::ServeConfig {
        listen: a.listen,
        backend,
        write_token,
        read_token,
        max_body,
    };
    let backend_name = cfg.backend.display.clone();
    let reads = if cfg.read_token.is_some() {
        "reads need a token"
    } else {
        "reads are open"
    };
    let res = strata_serve::run(cfg, |addr| {
        // On stdout, so scripts (and tests) can read the port that was picked.
        println!(
            "strata serve: listening on http://{addr} (objects in {backend_name}; pushes need a token, {reads})"
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
    });
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn why(cli: &Cli, a: &CargoArgs) -> ExitCode {
    // `strata why build --release` and `strata why --release` both work.
    let (sub, rest) = match a.args.first().map(String::as_str) {
        Some(s) if !s.starts_with('-') => (s.to_string(), a.args[1..].to_vec()),
        _ => ("build".to_string(), a.args.clone()),
    };
    let cmd = cargo_command(cli, &sub, &rest);
    let rep = Reporter::new(cmd.verbosity());
    let opts = match options(cli, &a.cache) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    match strata_build::why(&cmd, &opts, &rep) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

fn open_store(cli: &Cli) -> Result<Store, String> {
    let root = match &cli.store {
        Some(p) => p.clone(),
        None => Store::default_root().map_err(|e| e.to_string())?,
    };
    Store::open(root).map_err(|e| e.to_string())
}

fn store(cli: &Cli, cmd: &StoreCommand) -> ExitCode {
    let store = match open_store(cli) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    match cmd {
        StoreCommand::Stats => match store.stats() {
            Ok(s) => {
                println!("store:     {}", store.root().display());
                println!(
                    "blobs:     {} ({} on disk)",
                    s.blobs,
                    human_bytes(s.blob_bytes)
                );
                println!(
                    "manifests: {} ({} on disk)",
                    s.manifests,
                    human_bytes(s.manifest_bytes)
                );
                println!("refs:      {}", s.refs);
                println!(
                    "linked:    {} ({} on disk, {} of them linked into a target dir)",
                    s.linked_files,
                    human_bytes(s.linked_bytes),
                    s.linked_in_use
                );
                println!(
                    "layers hold {} of files; the store takes {} on disk",
                    human_bytes(s.referenced_uncompressed_bytes),
                    human_bytes(s.total_bytes())
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        StoreCommand::Verify => match store.verify() {
            Ok(r) => {
                for c in &r.corrupt {
                    println!("corrupt: {}: {}", c.path.display(), c.reason);
                }
                for m in &r.missing_blobs {
                    println!("missing: blob {} of manifest {}", m.blob, m.manifest);
                }
                for d in &r.dangling_refs {
                    println!("dangling ref: {} → {}", d.name, d.manifest);
                }
                if r.is_clean() {
                    println!(
                        "store is clean: {} blobs and {} manifests verified",
                        r.blobs_checked, r.manifests_checked
                    );
                    ExitCode::SUCCESS
                } else {
                    eprintln!(
                        "error: the store at {} has problems (listed above); `strata store gc` removes corrupt objects",
                        store.root().display()
                    );
                    ExitCode::FAILURE
                }
            }
            Err(e) => fail(&e.to_string()),
        },
        StoreCommand::Show { name } => {
            let id = match store.get_ref(name) {
                Ok(Some(id)) => id,
                _ => match strata_store::ObjectId::from_hex(name) {
                    Ok(id) => id,
                    Err(_) => {
                        return fail(&format!(
                            "no ref or manifest id `{name}` in {}",
                            store.root().display()
                        ));
                    }
                },
            };
            match store.get_manifest(&id) {
                Ok(m) => match serde_json::to_string_pretty(&m) {
                    Ok(text) => {
                        println!("{text}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(&e.to_string()),
                },
                Err(e) => fail(&e.to_string()),
            }
        }
        StoreCommand::Refs => match store.list_refs() {
            Ok(refs) => {
                for (name, id) in refs {
                    println!("{name} {id}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        StoreCommand::Gc { max_size } => {
            let max = match strata_store::parse_size(max_size) {
                Ok(m) => m,
                Err(e) => return fail(&e.to_string()),
            };
            match store.gc(max) {
                Ok(r) => {
                    println!(
                        "removed {} layers, {} blobs, {} refs, {} corrupt objects, {} temp files; store is now {} (was {})",
                        r.removed_manifests.len(),
                        r.removed_blobs,
                        r.removed_refs.len(),
                        r.removed_corrupt.len(),
                        r.removed_tmp_files,
                        human_bytes(r.bytes_after),
                        human_bytes(r.bytes_before)
                    );
                    if r.removed_linked > 0 {
                        println!(
                            "removed {} linked copies no checkout uses ({})",
                            r.removed_linked,
                            human_bytes(r.removed_linked_bytes)
                        );
                    }
                    if r.removed_cache_entries > 0 {
                        println!(
                            "removed {} cache entries unused for a week",
                            r.removed_cache_entries
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.to_string()),
            }
        }
    }
}

impl Cli {
    fn verbosity(&self) -> strata_cargo::Verbosity {
        if self.quiet {
            strata_cargo::Verbosity::Quiet
        } else if self.verbose > 0 {
            strata_cargo::Verbosity::Verbose
        } else {
            strata_cargo::Verbosity::Normal
        }
    }
}

fn deps_only(cli: &Cli, a: &CargoArgs) -> ExitCode {
    let cmd = cargo_command(cli, "build", &a.args);
    let rep = Reporter::new(cmd.verbosity());
    let opts = match options(cli, &a.cache) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    match strata_build::deps_only(&cmd, &opts, &rep) {
        Ok(id) => {
            println!("{id}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn nix_command(cmd: &NixCommand) -> ExitCode {
    match cmd {
        NixCommand::Cache(c) => nix_cache::run(c),
        NixCommand::Init {
            force,
            strata_url,
            system,
        } => {
            let dir = match std::env::current_dir() {
                Ok(d) => d,
                Err(e) => return fail(&format!("cannot find the current directory: {e}")),
            };
            let opts = nix::InitOptions {
                dir,
                strata_url: strata_url.clone(),
                system: system.clone(),
                force: *force,
            };
            match nix::init(&opts) {
                Ok(path) => {
                    println!("wrote {}", path.display());
                    if strata_url == PLACEHOLDER_STRATA_URL {
                        eprintln!(
                            "note: inputs.strata.url is a placeholder ({PLACEHOLDER_STRATA_URL}); \
                             point it at your copy of strata (e.g. `path:/src/strata` or a git URL), \
                             or pass --strata-url"
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
    }
}

fn skeleton(out: &std::path::Path, metadata_args: &[String]) -> ExitCode {
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => return fail(&format!("cannot find the current directory: {e}")),
    };
    match nix::write_skeleton(&cwd, out, metadata_args) {
        Ok(n) => {
            eprintln!("wrote {n} skeleton files to {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Vec<String> {
        normalize_args(s.split_whitespace().map(OsString::from).collect())
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn own_flags_move_and_cargo_args_stay_verbatim() {
        assert_eq!(
            norm("strata build --release --no-save -p x"),
            ["strata", "build", "--no-save", "--", "--release", "-p", "x"]
        );
        assert_eq!(
            norm("strata -q test -- --nocapture"),
            ["strata", "-q", "test", "--", "--", "--nocapture"]
        );
        assert_eq!(
            norm("strata build --deps-for build --release -- --no-save"),
            [
                "strata",
                "build",
                "--deps-for",
                "build",
                "--",
                "--release",
                "--",
                "--no-save"
            ]
        );
        assert_eq!(norm("strata build --help"), ["strata", "build", "--help"]);
        assert_eq!(
            norm("strata store gc --max-size 1G"),
            ["strata", "store", "gc", "--max-size", "1G"]
        );
        assert_eq!(
            norm("strata --store /s why --release"),
            ["strata", "--store", "/s", "why", "--", "--release"]
        );
    }

    #[test]
    fn parsed_cargo_args() {
        let cli = Cli::parse_from(normalize_args(
            "strata test --no-save -- --nocapture"
                .split_whitespace()
                .map(OsString::from)
                .collect(),
        ));
        match cli.command {
            Command::Test(a) => {
                assert!(a.cache.no_save);
                assert_eq!(a.args, ["--", "--nocapture"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
