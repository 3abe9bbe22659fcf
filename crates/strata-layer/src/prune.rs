//! Removing what a dummy build left behind.

use std::collections::BTreeSet;

use crate::scan::TargetScan;
use crate::{LayerError, io_err};

/// Delete every file of a unit of a local package (or of unknown package), every uplifted copy
/// and all incremental state from a scanned target dir, then the dirs left empty. After a build
/// of the skeleton this leaves only dependency units: nothing built from a dummy source survives
/// (cargo-chef shipped stale dummy binaries: cargo-chef#186, #233, #286). Returns files removed.
pub fn prune_local_units(scan: &TargetScan, local: &BTreeSet<String>) -> Result<usize, LayerError> {
    let mut removed = 0;
    let mut dirs = BTreeSet::new();
    for f in &scan.files {
        if scan.is_local_or_unknown(&f.group, local) {
            let path = scan.root.join(&f.rel);
            std::fs::remove_file(&path).map_err(io_err(&path))?;
            removed += 1;
            let mut p = path.parent();
            while let Some(d) = p {
                if d == scan.root {
                    break;
                }
                dirs.insert(d.to_path_buf());
                p = d.parent();
            }
        }
    }
    // Deepest first, so parents empty out too; a non-empty dir simply stays.
    for d in dirs.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
    Ok(removed)
}
