//! `strata store`: inspect and maintain the local store.

use std::process::ExitCode;

use clap::Subcommand;
use strata_build::human_bytes;
use strata_store::Store;

use super::open_store;
use crate::{Cli, CliError};

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
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

pub fn run(cli: &Cli, cmd: &StoreCommand) -> Result<ExitCode, CliError> {
    let store = open_store(cli)?;
    match cmd {
        StoreCommand::Stats => stats(&store),
        StoreCommand::Verify => verify(&store),
        StoreCommand::Show { name } => show(&store, name),
        StoreCommand::Refs => {
            for (name, id) in store.list_refs()? {
                println!("{name} {id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Gc { max_size } => gc(&store, max_size),
    }
}

fn stats(store: &Store) -> Result<ExitCode, CliError> {
    let s = store.stats()?;
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
    Ok(ExitCode::SUCCESS)
}

fn verify(store: &Store) -> Result<ExitCode, CliError> {
    let r = store.verify()?;
    for c in &r.corrupt {
        println!("corrupt: {}: {}", c.path.display(), c.reason);
    }
    for m in &r.missing_blobs {
        println!("missing: blob {} of manifest {}", m.blob, m.manifest);
    }
    for d in &r.dangling_refs {
        println!("dangling ref: {} → {}", d.name, d.manifest);
    }
    if !r.is_clean() {
        return Err(CliError::store(format!(
            "the store at {} has problems (listed above)",
            store.root().display()
        ))
        .help("`strata store gc --max-size <SIZE>` removes corrupt objects and the layers that need them"));
    }
    println!(
        "store is clean: {} blobs and {} manifests verified",
        r.blobs_checked, r.manifests_checked
    );
    Ok(ExitCode::SUCCESS)
}

fn show(store: &Store, name: &str) -> Result<ExitCode, CliError> {
    let id = match store.get_ref(name) {
        Ok(Some(id)) => id,
        _ => strata_store::ObjectId::from_hex(name).map_err(|_| {
            CliError::usage(format!(
                "no ref or manifest id `{name}` in {}",
                store.root().display()
            ))
            .help("`strata store refs` lists the refs")
        })?,
    };
    let m = store.get_manifest(&id)?;
    let text = serde_json::to_string_pretty(&m).map_err(|e| CliError::failed(e.to_string()))?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn gc(store: &Store, max_size: &str) -> Result<ExitCode, CliError> {
    let max = strata_store::parse_size(max_size)
        .map_err(|e| CliError::usage(format!("--max-size: {e}")))?;
    let r = store.gc(max)?;
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
    Ok(ExitCode::SUCCESS)
}
