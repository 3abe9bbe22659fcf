//! A cached cargo command, end to end: the flow of DESIGN.md.
//!
//! ```text
//! cargo metadata ─▶ skeleton (names the deps key; never built here) ─▶ keys
//!   ─▶ restore the layers of the exact keys, else the project's newest ─▶ align mtimes by content
//!   ─▶ cargo <cmd>, once, as the user asked ─▶ the units it used (its JSON messages)
//!   ─▶ deps layer (non-local units, accumulating per deps key and scope) + crate layer ─▶ push
//! ```
//! Cargo does all compiling. A cache problem never fails a build: it becomes one warning and
//! cargo runs without that layer.

mod crates;
mod deps;
pub mod dev;
mod invoke;
mod package;
pub mod record;
mod remote;
pub mod report;
mod restore;
mod save;
mod session;
mod used;
mod why;

pub use report::{Reporter, human_bytes};
pub use session::{Coverage, Options, Session, SessionError};
pub use used::Used;
pub use why::{WhyReport, why};

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
    /// Refs this run wrote or found on its exact keys: what a push publishes.
    pub refs: Vec<String>,
    /// What the time-saved estimate needs (see [`record`]).
    pub timing: record::Timing,
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
            return exit_code(invoke::run_plain(cmd, &[], rep));
        }
        Err(e) => {
            rep.warn(&format!("{e}\n  running cargo without the cache"));
            return exit_code(invoke::run_plain(cmd, &[], rep));
        }
    };
    if let Some(problem) = session.layout_problem() {
        rep.warn(&format!(
            "{problem}\n  strata does not know this build-dir layout: running cargo without the cache"
        ));
        return exit_code(invoke::run_plain(cmd, &session.envs, rep));
    }
    let mut summary = Summary::default();
    let _lock = match session.store.lock_shared() {
        Ok(l) => Some(l),
        Err(e) => {
            rep.warn(&format!("{e}; continuing without a store lock"));
            None
        }
    };
    let deps = if opts.restore {
        deps::restore(&session, rep, &mut summary)
    } else {
        None
    };
    if opts.restore && !opts.package_stores.is_empty() {
        package::restore(&session, &opts.package_stores, rep, &mut summary);
    }
    let pre = crates::before(&session, opts, rep, &mut summary);
    let started = pre.as_ref().map(|p| p.started);
    let default_bin = used::default_bin(&session);
    let outcome = invoke::run(cmd, &session.envs, default_bin.as_deref(), rep);
    let success = outcome.status.as_ref().is_ok_and(|s| s.success());
    // The units cargo named, worked out once for every save below.
    let used = outcome
        .units
        .as_deref()
        .map(|m| Used::from_messages(&session, m));
    summary.timing.cargo_ran(outcome.cargo_ms, used.as_ref());
    rep.detail(&format!(
        "cargo done ({} ms); {} units named",
        outcome.cargo_ms,
        used.as_ref().map_or(0, |u| u.deps.len() + u.local.len())
    ));
    // Why cargo compiled: asked now, before this run's layers become "the previous build".
    let why = match &pre {
        Some(pre) if !summary.timing.compiled.is_empty() || !summary.timing.messages => {
            Some(why::at_run(&session, &pre.stamps, &pre.sources).to_string())
        }
        _ => None,
    };
    if let Some((name, out)) = &opts.save_package
        && success
    {
        match &used {
            Some(used) => {
                if let Err(e) = package::save(&session, name, out, used, rep, &mut summary) {
                    rep.warn(&format!("could not save the layer of package {name}: {e}"));
                }
            }
            None => rep.warn(&format!(
                "cargo's messages were not read, so the units of package {name} are not known: nothing saved"
            )),
        }
    }
    if opts.save {
        save_after(
            &session,
            cmd,
            deps.as_ref(),
            pre,
            started,
            used,
            success,
            rep,
            &mut summary,
        );
    }
    rep.detail("layers saved");
    print_summary(rep, &summary);
    let code = exit_code(outcome.status);
    if !strata_store::in_nix_build() {
        let rec = run_record(
            &session,
            rep,
            &summary,
            code,
            outcome.cargo_ms,
            why.as_deref(),
        );
        if let Err(e) = record::append(session.store.root(), &rec) {
            rep.warn(&format!("could not record this run: {e}"));
        }
        rep.detail("run recorded");
    }
    code
}

fn run_record(
    s: &Session,
    rep: &Reporter,
    summary: &Summary,
    exit: i32,
    cargo_ms: u64,
    why: Option<&str>,
) -> record::RunRecord {
    let t = &summary.timing;
    let name =
        s.ws.metadata
            .root_package()
            .map(|p| p.name.to_string())
            .or_else(|| {
                s.ws.root
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_default();
    let mut rec = record::RunRecord {
        at: restore::now_secs(),
        project: s.project.clone(),
        name,
        root: s.ws.root.display().to_string(),
        command: std::iter::once(s.command.subcommand.as_str())
            .chain(s.command.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        scope: s.scope.to_string(),
        exit,
        wall_ms: u64::try_from(rep.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        cargo_ms,
        restored_layers: summary.restored_layers,
        restored_units: summary.restored_units,
        restored_bytes: summary.restored_bytes,
        fresh_units: t.messages.then_some(t.fresh.len()),
        compiled_units: t.messages.then_some(t.compiled.len()),
        restored_fresh: t.restored_fresh(),
        saved_ms: t.saved_ms(),
        saved_layers: summary.saved_layers,
        saved_bytes: summary.saved_bytes,
        stored_bytes: summary.stored_bytes,
        why: Vec::new(),
    };
    if let Some(why) = why {
        rec.set_why(why);
    }
    rec
}

/// Save what cargo used: the dependency units whatever cargo's result (a compile error in a
/// member leaves them good), the crate layer and the dev layer after a success; then push.
#[allow(clippy::too_many_arguments)]
fn save_after(
    s: &Session,
    cmd: &CargoCommand,
    deps: Option<&restore::Restored>,
    pre: Option<crates::Pre>,
    started: Option<strata_store::FileTime>,
    from_messages: Option<Used>,
    success: bool,
    rep: &Reporter,
    summary: &mut Summary,
) {
    if let Some(problem) = strata_layer::unknown_layout(&s.ws.build_dir) {
        rep.warn(&format!(
            "{problem}\n  strata does not know this build-dir layout: nothing saved"
        ));
        return;
    }
    let mut scan = None;
    let used = match from_messages {
        Some(u) => u,
        None => match Used::from_build_dir(s, started, deps.map(|d| &d.manifest), &mut scan) {
            Ok(u) => u,
            Err(e) => {
                rep.warn(&format!("cannot read the build dir: {e}; nothing saved"));
                return;
            }
        },
    };
    let deps_id = match deps::save(s, deps, &used, &mut scan, rep, summary) {
        Ok(id) => id,
        Err(e) => {
            rep.warn(&format!("could not save the dependency layer: {e}"));
            None
        }
    };
    if success && let Some(pre) = pre {
        crates::after(s, deps_id, pre, &used, &mut scan, rep, summary);
        if dev::wanted(cmd) {
            dev::save(s, rep, summary);
        }
    }
    let refs = std::mem::take(&mut summary.refs);
    remote::push(s, &refs, rep, summary.saved_layers > 0);
    summary.refs = refs;
}

/// Make sure the store holds the dependency layer of `cmd`, built from the skeleton on a miss,
/// without running `cmd` itself: for a pipeline that fills a cache ahead of time (`strata deps`)
/// and the Nix library's buildDepsOnly, whose output is the store. A missing layer is an error
/// here, since the layer is the whole point.
pub fn deps_only(cmd: &CargoCommand, opts: &Options, rep: &Reporter) -> Result<String, String> {
    let session = Session::prepare(cmd, opts, rep).map_err(|e| e.to_string())?;
    let _lock = session.store.lock_shared().map_err(|e| e.to_string())?;
    let mut summary = Summary::default();
    match deps::build_from_skeleton(&session, cmd, opts.coverage, rep, &mut summary) {
        Ok(id) => {
            print_summary(rep, &summary);
            Ok(id.to_string())
        }
        Err(e) => Err(format!(
            "no dependency layer for {}: {e}",
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

fn print_summary(rep: &Reporter, s: &Summary) {
    let secs = rep.started.elapsed().as_secs_f64();
    // What the restored units saved, when cargo's messages tell which were fresh.
    let saved = if s.restored_units > 0 && s.timing.messages {
        format!("; {} saved", record::approx(s.timing.saved_ms()))
    } else {
        String::new()
    };
    rep.status(
        "Strata",
        &format!(
            "restored {} layer{} ({} units, {}{saved}), saved {} layer{} ({}, {} new in store) in {secs:.2}s",
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
