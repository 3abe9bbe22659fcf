//! Dev layers: rustc's incremental state (`target/<profile>/incremental/`) of the workspace's own
//! crates, saved apart from release/CI layers (refs under `projects/<p>/dev/`), restored by
//! `strata dev` next to the crate layer.
//!
//! rustc ignores an incremental session whose working directory differs ("completely ignoring
//! cache because of differing commandline arguments", measured with `-Zincremental-info` on rustc
//! 1.95; `--remap-path-prefix` does not help because the prefix itself is tracked). So incremental
//! state is only restored into a checkout at the path it was saved from; elsewhere the crate layer
//! still makes the checkout warm and rustc starts a new session on the first edit.

use std::path::Path;

use strata_cargo::CargoCommand;
use strata_layer::{Group, ScannedFile};
use strata_store::refs::{self, LayerKind};
use strata_store::{EntryKind, FileTime, Manifest};

use crate::report::Reporter;
use crate::restore::{lookup, restore_into};
use crate::save::{NewLayer, SaveError, save_layer};
use crate::session::{Options, Session, SessionError};
use crate::{Summary, crates, deps, print_summary};

/// Environment variable that turns on dev mode for `strata build` & co (exported by `strata env`).
pub const DEV_ENV: &str = "STRATA_DEV";

/// Dev mode: `STRATA_DEV=1`, or `CARGO_INCREMENTAL=1` set explicitly for a debug-profile build.
pub fn wanted(cmd: &CargoCommand) -> bool {
    let on = |k: &str| std::env::var(k).is_ok_and(|v| v == "1" || v == "true");
    let debug = cmd.profile_dir() == "debug";
    debug && (on(DEV_ENV) || on("CARGO_INCREMENTAL"))
}

fn root_hash(root: &Path) -> String {
    strata_key::short_hash(root.to_string_lossy().as_bytes())
}

fn ref_at(s: &Session, root: &Path) -> String {
    refs::dev_at(&s.project, &s.config_id()[..16], &root_hash(root))
}

fn ref_latest(s: &Session) -> String {
    refs::dev_latest(&s.project, &s.config_id()[..16])
}

/// What the restore has read before it writes files: for work that runs beside it.
#[derive(Debug, Clone, Copy)]
pub struct Prepared<'a> {
    /// The workspace root.
    pub root: &'a Path,
    /// The toolchain's host triple.
    pub host: &'a str,
    /// What `cargo -V` answered.
    pub cargo_v: &'a str,
    /// `rustc --print sysroot`, when the toolchain read learned it.
    pub sysroot: Option<&'a Path>,
    /// The store (its caches: [`strata_store::Store::cache_dir`]).
    pub store: &'a strata_store::Store,
}

/// What `strata dev` restored.
#[derive(Debug, Default, Clone)]
pub struct DevRestore {
    pub summary: Summary,
    /// Incremental dirs restored (one per crate).
    pub incremental_dirs: usize,
    pub incremental_bytes: u64,
    /// The newest dev layer was saved from another checkout path (rustc would ignore it there).
    pub saved_elsewhere: Option<String>,
    /// No dev layer for this project and configuration.
    pub none: bool,
    /// The target dir the layers went to.
    pub target_dir: std::path::PathBuf,
}

/// Restore the dependency layer, the crate layer and the dev layer for `cmd` (a debug build)
/// without running cargo. Builds nothing: a missing dependency layer stays missing.
/// `prepared` runs once the workspace is read (before the files are restored), with the
/// workspace root and host triple, or `None` when that failed: work to do beside the restore.
pub fn restore(
    cmd: &CargoCommand,
    opts: &Options,
    rep: &Reporter,
    prepared: &mut dyn FnMut(Option<Prepared<'_>>),
) -> Result<DevRestore, SessionError> {
    let s = Session::prepare(cmd, opts, rep);
    prepared(s.as_ref().ok().map(|s| Prepared {
        root: &s.ws.root,
        host: &s.toolchain.host,
        cargo_v: &s.toolchain.cargo_v,
        sysroot: s.toolchain.sysroot.as_deref(),
        store: &s.store,
    }));
    let s = s?;
    rep.detail("workspace, toolchain and keys read");
    let _lock = match s.store.lock_shared() {
        Ok(l) => Some(l),
        Err(e) => {
            rep.warn(&format!("{e}; continuing without a store lock"));
            None
        }
    };
    let mut out = DevRestore {
        target_dir: s.ws.target_dir.clone(),
        ..DevRestore::default()
    };
    let restore_only = Options {
        save: false,
        ..opts.clone()
    };
    let mut summary = Summary::default();
    deps::restore(&s, rep, &mut summary);
    // Restores the crate layer (when the workspace's units are absent) and aligns source mtimes
    // by content, so that plain cargo finds the units fresh.
    let _ = crates::before(&s, &restore_only, rep, &mut summary);
    let here = lookup(&s, &ref_at(&s, &s.ws.root), rep);
    let found = here.or_else(|| lookup(&s, &ref_latest(&s), rep));
    match found {
        None => out.none = true,
        Some((id, m)) => {
            restore_rustc_info(&s, &m, rep);
            let saved_root = m.meta.get("root").cloned().unwrap_or_default();
            if Path::new(&saved_root) != s.ws.root {
                out.saved_elsewhere = Some(saved_root);
            } else {
                if let Some(stats) =
                    restore_into(&s, &s.ws.build_dir, &m, rep, &mut summary, "dev layer")
                {
                    out.incremental_dirs = stats.incremental_dirs;
                    out.incremental_bytes = stats.bytes;
                    if out.incremental_dirs > 0 && stats.units_restored == 0 {
                        summary.restored_layers += 1;
                        summary.restored_bytes += stats.bytes;
                    }
                }
                let _ = s.store.touch_manifest(&id);
                rep.detail(&format!(
                    "dev layer: incremental state of {} crate(s)",
                    out.incremental_dirs
                ));
            }
        }
    }
    print_summary(rep, &summary);
    out.summary = summary;
    Ok(out)
}

/// Cargo's cache of rustc's answers (`rustc -vV`, `--print=file-names`, `--print=cfg`) at the
/// target dir's root. Without it the first cargo command in a fresh clone runs rustc two or three
/// times before anything else (0.04 s on xh). Cargo keys it by the rustc it was made for (path,
/// mtime, rustup toolchain) and asks again on a mismatch, so it is safe to carry to another
/// checkout or machine; it rides in the dev layer, path-independent.
const RUSTC_INFO: &str = ".rustc_info.json";

fn rustc_info(target: &Path) -> Option<ScannedFile> {
    let meta = std::fs::metadata(target.join(RUSTC_INFO)).ok()?;
    Some(ScannedFile {
        rel: RUSTC_INFO.into(),
        group: Group::Ignored,
        size: meta.len(),
        mtime: FileTime::from_system_time(meta.modified().ok()?),
        executable: false,
        symlink: None,
    })
}

/// Put the dev layer's `.rustc_info.json` into the target dir unless cargo has written one there
/// (its own is at least as current): created new, as every restored file, so an existing one is
/// left alone. A failure costs cargo its rustc probes, nothing more.
fn restore_rustc_info(s: &Session, m: &Manifest, rep: &Reporter) {
    let Some((blob, size, mtime)) = m.entries.iter().find_map(|e| match &e.kind {
        EntryKind::File { blob, size, .. } if e.path == RUSTC_INFO => Some((blob, *size, e.mtime)),
        _ => None,
    }) else {
        return;
    };
    let dest = s.ws.build_dir.join(RUSTC_INFO);
    let _ = std::fs::create_dir_all(&s.ws.build_dir);
    match s.store.create_file(blob, &dest, size, mtime, false) {
        Err(e) if !e.is_already_exists() => {
            rep.detail(&format!("{RUSTC_INFO} not restored: {e}"));
        }
        _ => {}
    }
}

/// Save the incremental state of the target dir as a dev layer (after a successful build in dev
/// mode). A failure is one warning.
pub fn save(s: &Session, rep: &Reporter, summary: &mut Summary) {
    if let Err(e) = try_save(s, rep, summary) {
        rep.warn(&format!("could not save the dev layer: {e}"));
    }
}

fn try_save(s: &Session, rep: &Reporter, summary: &mut Summary) -> Result<(), SaveError> {
    let scan = strata_layer::scan(&s.ws.build_dir, Some(&s.profiles))?;
    // Cargo only compiles path packages incrementally, so every incremental dir is the
    // workspace's own. Only each crate's newest finished session is a state rustc reads again
    // (not the one it started from, nor one still being written).
    let incremental: Vec<&ScannedFile> = scan
        .files
        .iter()
        .filter(|f| matches!(f.group, Group::Incremental { .. }))
        .collect();
    let mut files = strata_layer::newest_sessions(&incremental);
    if files.is_empty() {
        return Ok(());
    }
    let info = rustc_info(&s.ws.build_dir);
    files.extend(info.as_ref());
    let here = ref_at(s, &s.ws.root);
    let previous = lookup(s, &here, rep);
    if let Some((id, m)) = &previous
        && crates::same_files(m, &files, 0)
    {
        s.store.set_ref(&ref_latest(s), id)?;
        return Ok(());
    }
    let known: Vec<&Manifest> = previous.iter().map(|(_, m)| m).collect();
    let mut meta = s.parts.to_meta();
    meta.insert("root".into(), s.ws.root.to_string_lossy().into_owned());
    let layer = NewLayer {
        kind: LayerKind::Dev,
        key: format!("{}-{}", &s.config_id()[..16], root_hash(&s.ws.root)),
        parent: None,
        sources: Vec::new(),
        meta,
        refs: vec![here, ref_latest(s)],
        keep: Vec::new(),
        known: &known,
    };
    save_layer(s, layer, &s.ws.build_dir, &files, rep, summary)?;
    Ok(())
}
