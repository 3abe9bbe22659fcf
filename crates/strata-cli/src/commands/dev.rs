//! `strata dev`, `strata env` and `strata doctor`: the dev loop around plain cargo.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use strata_build::dev::{DEV_ENV, Prepared};
use strata_build::{Options, Reporter, human_bytes};
use strata_cargo::{CanonicalHome, CargoCommand, HomeError};
use strata_dev::doctor::{self, Finding, Status, VersionCache};
use strata_dev::nextest::InitOutcome;
use strata_dev::setup::{Read, view_line};
use strata_dev::{Linker, Preference, Setup, shell_quote};

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

fn setup(a: &SetupArgs) -> Result<Setup, CliError> {
    let pref = Preference::parse(&a.linker).ok_or_else(|| {
        CliError::usage(format!(
            "--linker takes auto, mold, lld or default, not `{}`",
            a.linker
        ))
    })?;
    Setup::new(super::current_dir()?, pref, a.shared_target_dir).map_err(failed)
}

fn failed(e: strata_dev::DevError) -> CliError {
    CliError::failed(e.to_string())
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
    s.place().map_err(failed)?;
    let exports = s.exports(false, DEV_ENV).map_err(failed)?;
    print_exports(&exports, s.cargo_home.as_ref().ok());
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
        let name = p.linker.name();
        match &p.result {
            Ok(by) => rep.status(
                "Linker",
                &format!("{name} links with this toolchain ({by})"),
            ),
            Err(why) => rep.status("Linker", &format!("{name} does not work here: {why}")),
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
        let (path, settings) = s.config().map_err(failed)?;
        let changes = strata_dev::config::write(&path, &settings).map_err(failed)?;
        if changes.is_empty() {
            let already = format!("{} already has the dev settings", path.display());
            rep.status("Config", &already);
        }
        for c in changes {
            rep.status("Config", &format!("{}: {c}", path.display()));
        }
    }
    let exports = s.exports(a.write, DEV_ENV).map_err(failed)?;
    // The layers are looked up with the same environment the user's builds will have.
    for (k, v) in &exports {
        // SAFETY: strata is single-threaded here; no thread has been started yet.
        unsafe { std::env::set_var(k, v) };
    }
    // The doctor only runs tools (cargo -V, mold --version, …): it runs beside the restore's
    // file work, once `cargo metadata` (which it would slow down on 2 cores) is done, with the
    // root, host and toolchain answers the restore read.
    let mut doctor = None;
    let mut start_doctor = |read: Option<Prepared<'_>>| {
        doctor = Some(s.spawn_doctor(read.map(|p| Read {
            root: p.root,
            host: p.host,
            cargo_v: p.cargo_v,
            sysroot: p.sysroot,
            versions: p.store.cache_dir(VersionCache::STORE_CACHE),
        })));
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
                let what = if r.none {
                    "no dev layer for this project and toolchain yet (`strata dev --save` makes one)".to_string()
                } else if let Some(other) = &r.saved_elsewhere {
                    format!(
                        "the newest dev layer was saved at {other}; rustc ignores incremental state from another path, so only the crate layer was restored"
                    )
                } else {
                    format!(
                        "restored incremental state of {} crate(s) ({})",
                        r.incremental_dirs,
                        human_bytes(r.incremental_bytes)
                    )
                };
                rep.status("Dev", &what);
                rep.status("Target", &r.target_dir.display().to_string());
            }
            Err(e) => rep.warn(&format!("{e}; nothing restored")),
        }
    }
    // A doctor that could not start (not a cargo project) fails `strata dev`, after the restore.
    if let Some(d) = doctor {
        report_doctor(&rep, d.map_err(failed)?.wait());
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
fn report_doctor(rep: &Reporter, findings: Result<Vec<Finding>, strata_dev::DevError>) {
    match findings {
        Ok(findings) => {
            for f in findings.iter().filter(|f| f.status != Status::Ok) {
                let fix = f.fix.as_deref().map(|x| format!(" (fix: {x})"));
                let fix = fix.unwrap_or_default();
                rep.status("Doctor", &format!("{} {}{fix}", f.name, f.status.label()));
            }
        }
        Err(e) => rep.warn(&format!("could not check the tools: {e}")),
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
    match strata_dev::nextest::init_in(&super::current_dir()?).map_err(failed)? {
        InitOutcome::Written(p) => {
            println!("wrote {} (`cargo nextest run -P quick`)", p.display())
        }
        InitOutcome::Exists { path, has_quick } if has_quick => println!(
            "{} exists and has a quick profile; left as is",
            path.display()
        ),
        InitOutcome::Exists { path, .. } => println!(
            "{} exists without a quick profile; left as is. Add:\n\n{}",
            path.display(),
            strata_dev::nextest::QUICK_PROFILE
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_doctor() -> Result<ExitCode, CliError> {
    let (root, findings) = doctor::check_now(&super::current_dir()?).map_err(failed)?;
    println!("strata doctor for {}", root.display());
    for f in &findings {
        println!("{:<9} {:<22} {}", f.status.label(), f.name, f.detail);
        if let Some(fix) = &f.fix {
            println!("{:<9} {:<22} fix: {fix}", "", "");
        }
    }
    match doctor::problems(&findings) {
        0 => Ok(ExitCode::SUCCESS),
        bad => Err(
            CliError::failed(format!("{bad} problem(s) found (broken or in conflict)"))
                .help("the fixes are listed above"),
        ),
    }
}
