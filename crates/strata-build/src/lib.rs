//! A cached cargo command, end to end: the flow of DESIGN.md.
//!
//! ```text
//! cargo metadata ─▶ skeleton ─▶ deps key ─▶ store hit? ──yes──▶ restore deps layer ─┐
//!                                    └─no─▶ cargo build on skeleton ─▶ prune local ─▶ save
//! sources ─▶ crate key ─▶ restore crate layer ─▶ align mtimes ─▶ cargo <cmd> ─▶ save crate layer
//! ```
//! Cargo does all compiling. A cache problem never fails a build: it becomes one warning and
//! cargo runs without that layer.

mod crates;
mod deps;
pub mod dev;
mod refs;
mod remote;
pub mod report;
mod session;
mod why;

pub use report::{Reporter, human_bytes};
pub use session::{Coverage, Options, Session, SessionError};
pub use why::{WhyReport, why};

use std::process::{Command, Stdio};

use strata_cargo::CargoCommand;

/// What happened to layers during one run, for the summary line.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub restored_layers: usize,
    pub restored_units: usize,
    pub restored_bytes: u64,
    pub saved_layers: usize,
    pub saved_bytes: u64,
    pub stored_bytes: u64,
}

/// Run `cmd` through cargo with layers restored before and saved after. Returns cargo's exit code.
pub fn run(cmd: &CargoCommand, opts: &Options, rep: &Reporter) -> i32 {
    let session = match Session::prepare(cmd, opts, rep) {
        Ok(s) => s,
        // Cargo prints its own error for a workspace it cannot read; say so once, briefly.
        Err(SessionError::Workspace(strata_workspace::WorkspaceError::Metadata {
            dir, ..
        })) => {
            rep.warn(&format!(
                "cargo cannot read the workspace in {}; running cargo without the cache (its error follows)",
                dir.display()
            ));
            return exit_code(run_cargo(cmd, &[], rep));
        }
        Err(e) => {
            rep.warn(&format!("{e}\n  running cargo without the cache"));
            return exit_code(run_cargo(cmd, &[], rep));
        }
    };
    let mut summary = Summary::default();
    let _lock = match session.store.lock_shared() {
        Ok(l) => Some(l),
        Err(e) => {
            rep.warn(&format!("{e}; continuing without a store lock"));
            None
        }
    };
    let deps = if opts.restore {
        deps::ensure(&session, cmd, opts, rep, &mut summary)
    } else {
        None
    };
    let pre = crates::before(&session, opts, rep, &mut summary);
    let status = run_cargo(cmd, &session.envs, rep);
    if status.as_ref().is_ok_and(|s| s.success())
        && opts.save
        && let Some(pre) = pre
    {
        crates::after(&session, deps.as_ref(), pre, rep, &mut summary);
        if dev::wanted(cmd) {
            dev::save(&session, rep, &mut summary);
        }
        remote::push(&session, rep, summary.saved_layers > 0);
    }
    print_summary(rep, &summary);
    exit_code(status)
}

/// Make sure the store holds the dependency layer of `cmd` (build it from the skeleton on a miss)
/// without running `cmd` itself. The Nix library's buildDepsOnly uses it: its output is the store.
/// Unlike [`run`], a missing layer is an error here, since the layer is the whole point.
pub fn deps_only(cmd: &CargoCommand, opts: &Options, rep: &Reporter) -> Result<String, String> {
    let session = Session::prepare(cmd, opts, rep).map_err(|e| e.to_string())?;
    let _lock = session.store.lock_shared().map_err(|e| e.to_string())?;
    let mut summary = Summary::default();
    let save = Options {
        save: true,
        ..opts.clone()
    };
    match deps::ensure(&session, cmd, &save, rep, &mut summary) {
        Some((id, _)) => {
            print_summary(rep, &summary);
            Ok(id.to_string())
        }
        None => Err(format!(
            "no dependency layer for {} (see the warnings above)",
            session.ws.root.display()
        )),
    }
}

fn exit_code(status: std::io::Result<std::process::ExitStatus>) -> i32 {
    match status {
        Ok(s) => s.code().unwrap_or(1),
        Err(_) => 101,
    }
}

/// Run the user's cargo command, output untouched.
fn run_cargo(
    cmd: &CargoCommand,
    envs: &[(std::ffi::OsString, std::ffi::OsString)],
    rep: &Reporter,
) -> std::io::Result<std::process::ExitStatus> {
    let mut c = Command::new(strata_cargo::cargo_bin());
    c.arg(&cmd.subcommand)
        .args(&cmd.args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    rep.detail(&format!("running {c:?}"));
    let r = c.status();
    if let Err(e) = &r {
        rep.warn(&format!("could not run cargo: {e}"));
    }
    r
}

fn print_summary(rep: &Reporter, s: &Summary) {
    let secs = rep.started.elapsed().as_secs_f64();
    rep.status(
        "Strata",
        &format!(
            "restored {} layer{} ({} units, {}), saved {} layer{} ({}, {} new in store) in {secs:.2}s",
            s.restored_layers,
            if s.restored_layers == 1 { "" } else { "s" },
            s.restored_units,
            human_bytes(s.restored_bytes),
            s.saved_layers,
            if s.saved_layers == 1 { "" } else { "s" },
            human_bytes(s.saved_bytes),
            human_bytes(s.stored_bytes),
        ),
    );
}
