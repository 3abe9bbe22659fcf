//! `strata dev`, `strata env` and `strata doctor`: the dev loop around plain cargo.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use strata_build::{Options, Reporter, human_bytes};
use strata_cargo::{CanonicalHome, CargoCommand, HomeError};
use strata_dev::config::DevSettings;
use strata_dev::doctor::Status;
use strata_dev::{Linker, Preference, shell_quote, target_env};

use crate::{Cli, CliError};

#[derive(Args, Debug, Clone)]
pub struct SetupArgs {
    /// Which linker: `auto` (strata's measured default), `mold` (mold, else lld, else the
    /// default), `lld` (lld, else the default) or `default`; each is probed with this toolchain
    #[arg(long, value_name = "auto|mold|lld|default", default_value = "auto")]
    linker: String,
    /// Use one target dir for every worktree of this git repository (under git's common dir)
    #[arg(long)]
    shared_target_dir: bool,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DevArgs {
    #[command(flatten)]
    setup: SetupArgs,
    /// Write the settings into the project's .cargo/config.toml (other settings are kept)
    #[arg(long)]
    write: bool,
    /// After restoring, build (`cargo build` through strata) and save new dev layers
    #[arg(long)]
    save: bool,
    /// Do not restore layers; only set up and report
    #[arg(long)]
    no_restore: bool,
    #[command(subcommand)]
    action: Option<DevAction>,
}

#[derive(Subcommand, Debug)]
pub enum DevAction {
    /// Write .config/nextest.toml with a `quick` profile if there is no nextest config
    Init,
}

/// What the dev loop sets up for one project.
struct Setup {
    cwd: PathBuf,
    linker: strata_dev::LinkerChoice,
    target_dir: Option<PathBuf>,
    cargo_home: Result<CanonicalHome, HomeError>,
    /// The workspace root and the host triple: two processes behind rustup's proxies, asked
    /// only when something needs them (a linker setting, `--write`, an error to report).
    place: std::cell::OnceCell<Result<Place, String>>,
}

#[derive(Debug, Clone)]
struct Place {
    root: PathBuf,
    host: String,
}

fn setup(a: &SetupArgs) -> Result<Setup, CliError> {
    let pref = Preference::parse(&a.linker).ok_or_else(|| {
        CliError::usage(format!(
            "--linker takes auto, mold, lld or default, not `{}`",
            a.linker
        ))
    })?;
    let cwd = super::current_dir()?;
    let linker =
        strata_dev::linker::choose(pref, &cwd).map_err(|e| CliError::failed(e.to_string()))?;
    let target_dir = if a.shared_target_dir {
        Some(strata_dev::shared_target_dir(&cwd).map_err(|e| CliError::failed(e.to_string()))?)
    } else {
        None
    };
    let cargo_home = CanonicalHome::prepare();
    Ok(Setup {
        cwd,
        linker,
        target_dir,
        cargo_home,
        place: std::cell::OnceCell::new(),
    })
}

impl Setup {
    fn place(&self) -> Result<&Place, String> {
        self.place
            .get_or_init(|| {
                let cwd = &self.cwd;
                let (root, host) = std::thread::scope(|scope| {
                    let host = scope.spawn(|| strata_dev::host_triple(cwd));
                    (strata_dev::workspace_root(cwd), host.join())
                });
                Ok(Place {
                    root: root.map_err(|e| e.to_string())?,
                    host: host
                        .map_err(|_| "could not ask rustc for the host triple".to_string())?
                        .map_err(|e| e.to_string())?,
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn config_path(&self) -> Result<PathBuf, String> {
        Ok(self.place()?.root.join(".cargo").join("config.toml"))
    }

    /// Does a cargo config already choose a linker with -fuse-ld (e.g. after `--write`)?
    fn config_sets_linker(&self) -> Result<bool, String> {
        Ok(strata_dev::doctor::config_files(&self.place()?.root)
            .iter()
            .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("-fuse-ld="))))
    }

    /// The exports for a shell; `written` leaves out what `--write` put into the config.
    fn exports(&self, written: bool) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        match &self.cargo_home {
            Ok(home) => out.push(("CARGO_HOME".into(), home.path.display().to_string())),
            Err(HomeError::Off) => {}
            // Not the link (taken, or no view): the real home, also when the shell's CARGO_HOME
            // is the link today.
            Err(_) => {
                if let Ok(real) = CanonicalHome::real_home() {
                    out.push(("CARGO_HOME".into(), real.display().to_string()));
                }
            }
        }
        out.push(("CARGO_INCREMENTAL".into(), "1".into()));
        out.push((strata_build::dev::DEV_ENV.into(), "1".into()));
        if !written {
            if let Some(dir) = &self.target_dir {
                out.push(("CARGO_TARGET_DIR".into(), dir.display().to_string()));
            }
            let flags = self.linker.linker.rustflags();
            if !flags.is_empty() && !self.config_sets_linker()? {
                out.push((
                    target_env(&self.place()?.host, "RUSTFLAGS"),
                    flags.join(" "),
                ));
            }
        }
        Ok(out)
    }
}

/// The shell line that opens fd 8 on the real cargo home, which the canonical link resolves to in
/// every process started from that shell.
fn view_line(home: &CanonicalHome) -> String {
    format!(
        "exec {}<{}",
        strata_cargo::VIEW_FD,
        shell_quote(&home.real.display().to_string())
    )
}

fn print_exports(exports: &[(String, String)], home: Option<&CanonicalHome>) {
    for (k, v) in exports {
        println!("export {k}={}", shell_quote(v));
        if k == "CARGO_HOME"
            && let Some(home) = home
        {
            println!("{}", view_line(home));
        }
    }
}

/// `strata env`: the exports of the dev loop for a shell (`eval "$(strata env)"`).
pub fn run_env(a: &SetupArgs) -> Result<ExitCode, CliError> {
    let s = setup(a)?;
    // Outside a workspace there is nothing to set up: say so, as `strata dev` does.
    match s.place().and_then(|_| s.exports(false)) {
        Ok(exports) => print_exports(&exports, s.cargo_home.as_ref().ok()),
        Err(e) => return Err(CliError::failed(e)),
    }
    match &s.cargo_home {
        Ok(_) | Err(HomeError::Off) => {}
        Err(e) => eprintln!(
            "warning: strata: {e}; cargo in this shell uses your own cargo home, so layers from other machines will not be fresh for dependencies"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_dev(cli: &Cli, a: &DevArgs) -> Result<ExitCode, CliError> {
    if let Some(DevAction::Init) = &a.action {
        return init();
    }
    let rep = Reporter::new(cli.verbosity());
    let s = setup(&a.setup)?;
    for p in &s.linker.probes {
        match &p.result {
            Ok(by) => rep.status(
                "Linker",
                &format!("{} links with this toolchain ({by})", p.linker.name()),
            ),
            Err(why) => rep.status(
                "Linker",
                &format!("{} does not work here: {why}", p.linker.name()),
            ),
        }
    }
    rep.status(
        "Linker",
        &match s.linker.linker {
            Linker::Default => {
                "using rustc's default linker (on x86_64 Linux: its bundled rust-lld)".to_string()
            }
            l => format!("using {} ({})", l.name(), l.rustflags().join(" ")),
        },
    );
    if a.write {
        let (host, path) = match s
            .place()
            .and_then(|p| Ok((p.host.clone(), s.config_path()?)))
        {
            Ok(x) => x,
            Err(e) => return Err(CliError::failed(e)),
        };
        let settings = DevSettings {
            host,
            linker: s.linker.linker,
            target_dir: s.target_dir.clone(),
        };
        match strata_dev::config::write(&path, &settings) {
            Ok(changes) if changes.is_empty() => rep.status(
                "Config",
                &format!("{} already has the dev settings", path.display()),
            ),
            Ok(changes) => {
                for c in changes {
                    rep.status("Config", &format!("{}: {c}", path.display()));
                }
            }
            Err(e) => return Err(CliError::failed(e.to_string())),
        }
    }
    let exports = match s.exports(a.write) {
        Ok(e) => e,
        Err(e) => return Err(CliError::failed(e)),
    };
    // The layers are looked up with the same environment the user's builds will have.
    for (k, v) in &exports {
        // SAFETY: strata is single-threaded here; no thread has been started yet.
        unsafe { std::env::set_var(k, v) };
    }
    // The doctor only runs tools (cargo -V, mold --version, …): it runs beside the restore's
    // file work, once `cargo metadata` (which it would slow down on 2 cores) is done.
    // Root and host come from the restore's workspace and toolchain when it read them.
    let mut doctor = None;
    let mut not_a_workspace = None;
    let mut start_doctor = |read: Option<strata_build::dev::Prepared<'_>>| {
        let known = strata_dev::doctor::Known {
            cargo_v: read.map(|p| p.cargo_v.to_string()),
            sysroot: read.and_then(|p| p.sysroot.map(Path::to_path_buf)),
        };
        // Tools' versions are kept in the store, beside the other caches.
        let versions = read.map_or_else(strata_dev::doctor::VersionCache::off, |p| {
            strata_dev::doctor::VersionCache::in_dir(p.store.join("cache").join("tool-versions"))
        });
        let place = match read {
            Some(p) => Place {
                root: p.root.to_path_buf(),
                host: p.host.to_string(),
            },
            None => match s.place() {
                Ok(p) => p.clone(),
                Err(e) => {
                    not_a_workspace = Some(e);
                    return;
                }
            },
        };
        let cwd = s.cwd.clone();
        doctor = Some(std::thread::spawn(move || {
            strata_dev::doctor::check(&cwd, &place.root, &place.host, &known, &versions)
        }));
    };
    let opts = Options {
        store: cli.store.clone(),
        ..Options::default()
    };
    let build = CargoCommand::parse("build", &[]);
    if a.no_restore {
        start_doctor(None);
    } else {
        match strata_build::dev::restore(&build, &opts, &rep, &mut start_doctor) {
            Ok(r) => {
                if r.none {
                    rep.status(
                        "Dev",
                        "no dev layer for this project and toolchain yet (`strata dev --save` makes one)",
                    );
                } else if let Some(other) = &r.saved_elsewhere {
                    rep.status(
                        "Dev",
                        &format!(
                            "the newest dev layer was saved at {other}; rustc ignores incremental state from another path, so only the crate layer was restored"
                        ),
                    );
                } else {
                    rep.status(
                        "Dev",
                        &format!(
                            "restored incremental state of {} crate(s) ({})",
                            r.incremental_dirs,
                            human_bytes(r.incremental_bytes)
                        ),
                    );
                }
                rep.status("Target", &r.target_dir.display().to_string());
            }
            Err(e) => rep.warn(&format!("{e}; nothing restored")),
        }
    }
    if let Some(e) = not_a_workspace {
        return Err(CliError::failed(e));
    }
    if let Some(d) = doctor {
        report_doctor(&rep, d.join());
    }
    if a.save {
        let code = strata_build::run(&build, &opts, &rep);
        if code != 0 {
            return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
        }
    }
    if !cli.quiet {
        eprintln!(
            "For plain cargo in this shell, run:\n  eval \"$(strata env{})\"\nwhich sets:",
            env_flags(&a.setup)
        );
        for (k, v) in &exports {
            eprintln!("  {k}={}", shell_quote(v));
        }
        if let Ok(home) = &s.cargo_home {
            eprintln!("and runs `{}`", view_line(home));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The toolchain and tools, briefly: only what is not fine (`strata doctor` has the full list).
fn report_doctor(
    rep: &Reporter,
    findings: std::thread::Result<Result<Vec<strata_dev::doctor::Finding>, strata_dev::DevError>>,
) {
    match findings {
        Ok(Ok(findings)) => {
            for f in findings.iter().filter(|f| f.status != Status::Ok) {
                let fix = f
                    .fix
                    .as_deref()
                    .map(|x| format!(" (fix: {x})"))
                    .unwrap_or_default();
                rep.status("Doctor", &format!("{} {}{fix}", f.name, f.status.label()));
            }
        }
        Ok(Err(e)) => rep.warn(&format!("could not check the tools: {e}")),
        Err(_) => rep.warn("could not check the tools: the check panicked"),
    }
}

fn env_flags(a: &SetupArgs) -> String {
    let mut s = String::new();
    if a.linker != "auto" {
        s.push_str(&format!(" --linker {}", a.linker));
    }
    if a.shared_target_dir {
        s.push_str(" --shared-target-dir");
    }
    s
}

fn init() -> Result<ExitCode, CliError> {
    let cwd = match std::env::current_dir() {
        Ok(c) => c,
        Err(e) => {
            return Err(CliError::failed(format!(
                "cannot read the current dir: {e}"
            )));
        }
    };
    let root = match strata_dev::workspace_root(&cwd) {
        Ok(r) => r,
        Err(e) => return Err(CliError::failed(e.to_string())),
    };
    match strata_dev::nextest::init(&root) {
        Ok(strata_dev::nextest::InitOutcome::Written(p)) => {
            println!("wrote {} (`cargo nextest run -P quick`)", p.display());
            Ok(ExitCode::SUCCESS)
        }
        Ok(strata_dev::nextest::InitOutcome::Exists { path, has_quick }) => {
            if has_quick {
                println!(
                    "{} exists and has a quick profile; left as is",
                    path.display()
                );
            } else {
                println!(
                    "{} exists without a quick profile; left as is. Add:\n\n{}",
                    path.display(),
                    strata_dev::nextest::QUICK_PROFILE
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(CliError::failed(e.to_string())),
    }
}

pub fn run_doctor() -> Result<ExitCode, CliError> {
    let cwd = match std::env::current_dir() {
        Ok(c) => c,
        Err(e) => {
            return Err(CliError::failed(format!(
                "cannot read the current dir: {e}"
            )));
        }
    };
    let root = strata_dev::workspace_root(&cwd).unwrap_or_else(|_| cwd.clone());
    let host = match strata_dev::host_triple(&cwd) {
        Ok(h) => h,
        Err(e) => return Err(CliError::failed(e.to_string())),
    };
    // `strata doctor` asks every tool: what it reports is now.
    let versions = strata_dev::doctor::VersionCache::off();
    let findings = match strata_dev::doctor::check(
        &cwd,
        &root,
        &host,
        &strata_dev::doctor::Known::default(),
        &versions,
    ) {
        Ok(f) => f,
        Err(e) => return Err(CliError::failed(e.to_string())),
    };
    print_findings(&findings, &root)
}

fn print_findings(
    findings: &[strata_dev::doctor::Finding],
    root: &Path,
) -> Result<ExitCode, CliError> {
    let mut bad = 0;
    println!("strata doctor for {}", root.display());
    for f in findings {
        println!("{:<9} {:<22} {}", f.status.label(), f.name, f.detail);
        if let Some(fix) = &f.fix {
            println!("{:<9} {:<22} fix: {fix}", "", "");
        }
        if matches!(f.status, Status::Broken | Status::Conflict) {
            bad += 1;
        }
    }
    if bad > 0 {
        Err(
            CliError::failed(format!("{bad} problem(s) found (broken or in conflict)"))
                .help("the fixes are listed above"),
        )
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
