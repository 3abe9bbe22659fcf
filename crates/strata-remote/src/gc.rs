//! Remote gc and verify: keep a remote within a size budget without a lock.
//!
//! A remote holds layers (a manifest, its signature, the blobs it names, the refs that name it,
//! and a push record `pushed/<xx>/<manifest hex>` holding the pusher's clock at the start of
//! its push). gc keeps the most recently pushed layers that fit the budget and drops the rest:
//! the refs naming a dropped layer (each re-read just before it is deleted, and kept if it now
//! names another layer), its manifest, signature and push record, then every blob no kept layer
//! names.
//!
//! Why a push running during gc stays whole:
//! - a layer pushed (or re-pushed) less than the grace period ago is never dropped: its push
//!   record, written before anything else of the push, is young;
//! - a blob younger than the grace period is never deleted (a push uploads its blobs before
//!   its manifest); where the backend keeps no modification times (Redis), unreferenced blobs
//!   are left alone while any push record without its manifest is young (a push in flight);
//! - before deleting a dropped layer's manifest gc re-reads its push record, and before each
//!   batch of blob deletions it re-lists the manifests, so a layer pushed after gc started
//!   protects what it names;
//! - the pusher, for its part, checks again after writing the manifest that the blobs it found
//!   already there (and did not upload) are still there, before it writes the ref.
//!
//! What remains is a window of one batch of deletions: a push that starts and ends inside it,
//! reusing an old blob no kept layer names, can name a blob gc then deletes. The next push of
//! that layer repairs it, and [`Remotes::verify`] finds it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use strata_store::{Manifest, ObjectId};

use crate::backend::Listed;
use crate::{
    CONCURRENCY, MAX_MANIFEST_JSON, Remote, RemoteError, Remotes, blob_key, manifest_key,
    pushed_key, signature_key,
};

/// Blob deletions between two re-listings of the manifests.
const DELETE_BATCH: usize = 256;

/// What `strata remote gc` keeps.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Budget for strata's objects on the remote (blobs, manifests, signatures, refs, push
    /// records), in bytes as the backend counts them.
    pub max_size: u64,
    /// Layers pushed longer ago than this are dropped even within the budget.
    pub max_age: Option<Duration>,
    /// Layers and blobs younger than this are never dropped, whatever the budget.
    pub grace: Duration,
    /// Decide and report, delete nothing.
    pub dry_run: bool,
}

/// Why a layer was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Older than the newest layers that fit the budget.
    Budget,
    /// Pushed longer ago than `--max-age`.
    Age,
    /// No ref names it (replaced by a newer layer, or left by an interrupted push).
    Unreferenced,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Budget => "beyond the size budget",
            DropReason::Age => "older than --max-age",
            DropReason::Unreferenced => "no ref names it",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DroppedLayer {
    pub manifest: ObjectId,
    pub refs: Vec<String>,
    /// When it was last pushed, as far as the remote tells.
    pub pushed: Option<SystemTime>,
    pub reason: DropReason,
}

/// A count of objects and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub objects: usize,
    pub bytes: u64,
}

impl Usage {
    fn add(&mut self, size: u64) {
        self.objects += 1;
        self.bytes += size;
    }
}

/// What gc did (or, with `dry_run`, would do) on one remote.
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    pub dry_run: bool,
    /// strata's objects before and after.
    pub before: Usage,
    pub after: Usage,
    /// Layers named by refs, before.
    pub layers: usize,
    pub kept_layers: usize,
    /// Kept only because they are younger than the grace period.
    pub kept_young: usize,
    pub dropped: Vec<DroppedLayer>,
    /// Every object deleted (refs, manifests, signatures, push records, blobs).
    pub deleted: Usage,
    pub deleted_blobs: Usage,
    /// Things gc left alone on purpose (a ref that moved, a layer re-pushed during gc).
    pub notes: Vec<String>,
}

/// What [`Remotes::verify`] found on one remote.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub refs: usize,
    pub layers: usize,
    pub blobs: usize,
    /// Every problem: a ref naming a missing or unreadable manifest, a layer without its
    /// signature, a manifest naming a missing blob.
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The id in `<dir>/<xx>/<hex><suffix>`.
fn id_in(key: &str, dir: &str, suffix: &str) -> Option<ObjectId> {
    let rest = key.strip_prefix(dir)?.strip_prefix('/')?;
    let (fan, file) = rest.split_once('/')?;
    let hex = file.strip_suffix(suffix)?;
    if fan.len() != 2 || !hex.starts_with(fan) {
        return None;
    }
    ObjectId::from_hex(hex).ok()
}

/// One remote's strata objects, as listed.
#[derive(Default)]
struct Inventory {
    blobs: HashMap<ObjectId, Listed>,
    manifests: HashMap<ObjectId, Listed>,
    sigs: HashMap<ObjectId, Listed>,
    records: HashMap<ObjectId, Listed>,
    refs: BTreeMap<String, Listed>,
}

impl Inventory {
    fn usage(&self) -> Usage {
        let mut u = Usage::default();
        for l in self
            .blobs
            .values()
            .chain(self.manifests.values())
            .chain(self.sigs.values())
            .chain(self.records.values())
            .chain(self.refs.values())
        {
            u.add(l.size);
        }
        u
    }
}

async fn list(r: &Remote, prefix: &str) -> Result<Vec<Listed>, RemoteError> {
    r.objects.list(&r.spec, prefix).await
}

/// List in the order that keeps a push in flight safe: blobs first (a blob listed was written
/// before anything that names it), then push records, manifests, refs.
async fn inventory(r: &Remote) -> Result<Inventory, RemoteError> {
    let mut inv = Inventory::default();
    for l in list(r, "blobs/").await? {
        if let Some(id) = id_in(&l.key, "blobs", ".zst") {
            inv.blobs.insert(id, l);
        }
    }
    for l in list(r, "pushed/").await? {
        if let Some(id) = id_in(&l.key, "pushed", "") {
            inv.records.insert(id, l);
        }
    }
    for l in list(r, "manifests/").await? {
        if let Some(id) = id_in(&l.key, "manifests", ".json.zst") {
            inv.manifests.insert(id, l);
        } else if let Some(id) = id_in(&l.key, "manifests", ".sig") {
            inv.sigs.insert(id, l);
        }
    }
    for l in list(r, "refs/").await? {
        if let Some(name) = l.key.strip_prefix("refs/") {
            inv.refs.insert(name.to_string(), l);
        }
    }
    Ok(inv)
}

/// A manifest from the remote: `Ok(None)` if it is gone, `Err` with the reason if it is not a
/// manifest.
async fn read_manifest(
    r: &Remote,
    id: &ObjectId,
) -> Result<Option<Result<Manifest, String>>, RemoteError> {
    let Some(packed) = r.objects.get(&manifest_key(id)).await? else {
        return Ok(None);
    };
    let mut json = Vec::new();
    let decoded = zstd::stream::read::Decoder::new(&packed[..])
        .and_then(|d| d.take(MAX_MANIFEST_JSON + 1).read_to_end(&mut json));
    if let Err(e) = decoded {
        return Ok(Some(Err(format!("does not decompress: {e}"))));
    }
    if ObjectId::of_bytes(&json) != *id {
        return Ok(Some(Err("content does not hash to its name".into())));
    }
    Ok(Some(
        serde_json::from_slice::<Manifest>(&json).map_err(|e| format!("not a manifest: {e}")),
    ))
}

/// The manifests `ids` name, read concurrently.
async fn read_manifests(
    r: &Remote,
    ids: impl IntoIterator<Item = ObjectId>,
) -> Result<HashMap<ObjectId, Option<Result<Manifest, String>>>, RemoteError> {
    let mut out = HashMap::new();
    let mut s = futures::stream::iter(
        ids.into_iter()
            .map(|id| async move { read_manifest(r, &id).await.map(|m| (id, m)) }),
    )
    .buffer_unordered(CONCURRENCY);
    while let Some(res) = s.next().await {
        let (id, m) = res?;
        out.insert(id, m);
    }
    Ok(out)
}

/// The manifest a ref names, `None` if the ref is gone or unreadable.
async fn read_ref(r: &Remote, name: &str) -> Result<Option<ObjectId>, RemoteError> {
    Ok(r.objects
        .get(&crate::ref_key(name))
        .await?
        .and_then(|b| ObjectId::from_hex(String::from_utf8_lossy(&b).trim()).ok()))
}

/// What each ref names (`None`: gone or unreadable), read concurrently.
async fn read_refs<'a>(
    r: &Remote,
    names: impl IntoIterator<Item = &'a String>,
) -> Result<Vec<(String, Option<ObjectId>)>, RemoteError> {
    let mut out = Vec::new();
    let mut s = futures::stream::iter(
        names
            .into_iter()
            .map(|name| async move { read_ref(r, name).await.map(|id| (name.clone(), id)) }),
    )
    .buffer_unordered(CONCURRENCY);
    while let Some(res) = s.next().await {
        out.push(res?);
    }
    out.sort();
    Ok(out)
}

/// The push records of `ids` that hold a time, read concurrently.
async fn read_records(
    r: &Remote,
    ids: impl IntoIterator<Item = ObjectId>,
) -> Result<HashMap<ObjectId, SystemTime>, RemoteError> {
    let mut out = HashMap::new();
    let mut s = futures::stream::iter(
        ids.into_iter()
            .map(|id| async move { read_record(r, &id).await.map(|t| (id, t)) }),
    )
    .buffer_unordered(CONCURRENCY);
    while let Some(res) = s.next().await {
        if let (id, Some(t)) = res? {
            out.insert(id, t);
        }
    }
    Ok(out)
}

/// The pusher's clock in a push record.
async fn read_record(r: &Remote, id: &ObjectId) -> Result<Option<SystemTime>, RemoteError> {
    Ok(r.objects.get(&pushed_key(id)).await?.and_then(|b| {
        String::from_utf8_lossy(&b)
            .trim()
            .parse::<u64>()
            .ok()
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
    }))
}

fn age(now: SystemTime, t: SystemTime) -> Duration {
    now.duration_since(t).unwrap_or_default()
}

fn is_young(now: SystemTime, t: Option<SystemTime>, grace: Duration) -> bool {
    t.is_some_and(|t| age(now, t) < grace)
}

impl Remotes {
    /// What each remote holds of strata's objects (its listing, as gc sees it; a `strata serve`
    /// remote lists only with the push token). One result per remote, in order.
    pub fn usage(&self) -> Vec<(&Remote, Result<Usage, RemoteError>)> {
        self.remotes.iter().map(|r| (r, self.usage_of(r))).collect()
    }

    /// What one remote (one of [`Remotes::remotes`]) holds, as [`Remotes::usage`] says it.
    pub fn usage_of(&self, r: &Remote) -> Result<Usage, RemoteError> {
        self.rt.block_on(async { Ok(inventory(r).await?.usage()) })
    }

    /// Run gc on every remote that takes pushes (the others are not this machine's to prune).
    /// One result per remote, in order.
    pub fn gc(&self, opts: &GcOptions) -> Vec<(&Remote, Result<GcReport, RemoteError>)> {
        self.remotes
            .iter()
            .filter(|r| r.push)
            .map(|r| (r, self.rt.block_on(gc_one(r, opts))))
            .collect()
    }

    /// Check that every ref of every remote names a manifest that is there, signed, and whose
    /// blobs are all there. One report per remote, in order.
    pub fn verify(&self) -> Vec<(&Remote, Result<VerifyReport, RemoteError>)> {
        self.remotes
            .iter()
            .map(|r| (r, self.rt.block_on(verify_one(r))))
            .collect()
    }
}

async fn verify_one(r: &Remote) -> Result<VerifyReport, RemoteError> {
    let inv = inventory(r).await?;
    let mut report = VerifyReport {
        refs: inv.refs.len(),
        ..VerifyReport::default()
    };
    let mut named: BTreeMap<ObjectId, Vec<String>> = BTreeMap::new();
    for (name, id) in read_refs(r, inv.refs.keys()).await? {
        match id {
            Some(id) => named.entry(id).or_default().push(name),
            None => report
                .problems
                .push(format!("ref `{name}` does not name a manifest")),
        }
    }
    report.layers = named.len();
    let manifests = read_manifests(r, named.keys().copied()).await?;
    let mut seen_blobs = HashSet::new();
    for (id, names) in &named {
        let refs = names.join("`, `");
        match manifests.get(id) {
            Some(Some(Ok(m))) => {
                if !inv.sigs.contains_key(id) && !r.objects.exists(&signature_key(id)).await? {
                    report
                        .problems
                        .push(format!("layer {id} (ref `{refs}`) has no signature"));
                }
                for b in m.blob_ids() {
                    seen_blobs.insert(b);
                    if !inv.blobs.contains_key(&b) && !r.objects.exists(&blob_key(&b)).await? {
                        report.problems.push(format!(
                            "layer {id} (ref `{refs}`) names blob {b}, which is missing"
                        ));
                    }
                }
            }
            Some(Some(Err(reason))) => report
                .problems
                .push(format!("manifest {id} (ref `{refs}`) is corrupt: {reason}")),
            _ => report.problems.push(format!(
                "ref `{refs}` names manifest {id}, which is missing"
            )),
        }
    }
    report.blobs = seen_blobs.len();
    Ok(report)
}

/// One layer as gc sees it.
struct Layer {
    id: ObjectId,
    refs: Vec<String>,
    pushed: Option<SystemTime>,
    /// `None`: the manifest is unreadable (its blobs are unknown; it cannot be restored).
    blobs: Option<HashSet<ObjectId>>,
}

async fn gc_one(r: &Remote, opts: &GcOptions) -> Result<GcReport, RemoteError> {
    let now = SystemTime::now();
    let grace = opts.grace;
    let inv = inventory(r).await?;
    let mut report = GcReport {
        dry_run: opts.dry_run,
        before: inv.usage(),
        ..GcReport::default()
    };

    // Which manifest each ref names.
    let mut named: HashMap<ObjectId, Vec<String>> = HashMap::new();
    for (name, id) in read_refs(r, inv.refs.keys()).await? {
        if let Some(id) = id {
            named.entry(id).or_default().push(name);
        }
    }
    let manifests = read_manifests(r, inv.manifests.keys().copied()).await?;
    let records = read_records(r, inv.records.keys().copied()).await?;

    // A layer was pushed when its push record says, or its manifest or a ref naming it was
    // last written, whichever is latest.
    let mut layers: Vec<Layer> = Vec::new();
    for (id, listed) in &inv.manifests {
        let Some(read) = manifests.get(id).and_then(|m| m.as_ref()) else {
            continue; // deleted since the listing
        };
        let refs = named.get(id).cloned().unwrap_or_default();
        let pushed = [records.get(id).copied(), listed.modified]
            .into_iter()
            .chain(
                refs.iter()
                    .map(|n| inv.refs.get(n).and_then(|l| l.modified)),
            )
            .flatten()
            .max();
        if let Err(reason) = read {
            report.notes.push(format!(
                "manifest {id} is unreadable ({reason}): dropped unless young"
            ));
        }
        layers.push(Layer {
            id: *id,
            refs,
            pushed,
            blobs: read.as_ref().ok().map(|m| m.blob_ids()),
        });
    }
    // Newest first; unknown push times count as oldest.
    layers.sort_by(|a, b| b.pushed.cmp(&a.pushed).then(a.id.cmp(&b.id)));
    report.layers = layers.iter().filter(|l| !l.refs.is_empty()).count();

    // Keep the newest layers that fit; what a kept layer names is counted once.
    let mut kept_blobs: HashSet<ObjectId> = HashSet::new();
    let mut kept_bytes = 0u64;
    let mut kept: Vec<&Layer> = Vec::new();
    let mut dropped: Vec<(&Layer, DropReason)> = Vec::new();
    let mut over_budget = false;
    for l in &layers {
        let young = is_young(now, l.pushed, grace);
        let own = |inv: &Inventory| -> u64 {
            let mut b = inv.manifests.get(&l.id).map_or(0, |x| x.size)
                + inv.sigs.get(&l.id).map_or(0, |x| x.size)
                + inv.records.get(&l.id).map_or(0, |x| x.size);
            for n in &l.refs {
                b += inv.refs.get(n).map_or(0, |x| x.size);
            }
            b
        };
        let blob_bytes = |kept_blobs: &HashSet<ObjectId>| -> u64 {
            l.blobs
                .iter()
                .flatten()
                .filter(|b| !kept_blobs.contains(b))
                .map(|b| inv.blobs.get(b).map_or(0, |x| x.size))
                .sum()
        };
        let cost = own(&inv) + blob_bytes(&kept_blobs);
        let fits = !over_budget && kept_bytes + cost <= opts.max_size;
        let reason = if young {
            None
        } else if l.refs.is_empty() || l.blobs.is_none() {
            Some(DropReason::Unreferenced)
        } else if opts
            .max_age
            .is_some_and(|max| l.pushed.is_none_or(|t| age(now, t) > max))
        {
            Some(DropReason::Age)
        } else if !fits {
            // Once a layer does not fit, no older one is kept either: the budget keeps the
            // newest layers, not whichever happen to be small.
            over_budget = true;
            Some(DropReason::Budget)
        } else {
            None
        };
        match reason {
            None => {
                if young && (l.refs.is_empty() || !fits) {
                    report.kept_young += 1;
                }
                kept_bytes += cost;
                kept_blobs.extend(l.blobs.iter().flatten().copied());
                kept.push(l);
            }
            Some(reason) => dropped.push((l, reason)),
        }
    }
    report.kept_layers = kept.iter().filter(|l| !l.refs.is_empty()).count();
    for (l, reason) in &dropped {
        report.dropped.push(DroppedLayer {
            manifest: l.id,
            refs: l.refs.clone(),
            pushed: l.pushed,
            reason: *reason,
        });
    }

    let mut deleted_keys: Vec<(String, u64)> = Vec::new();
    let mut protected: HashSet<ObjectId> = kept_blobs;
    let mut known_manifests: HashSet<ObjectId> = inv.manifests.keys().copied().collect();

    // Dropped layers: refs first (so no ref ever names a missing manifest), then the rest.
    for (l, _) in &dropped {
        let mut still_named = false;
        for name in &l.refs {
            if read_ref(r, name).await? == Some(l.id) {
                if !opts.dry_run {
                    r.objects.delete(&crate::ref_key(name)).await?;
                }
                deleted_keys.push((
                    crate::ref_key(name),
                    inv.refs.get(name).map_or(0, |x| x.size),
                ));
            } else {
                still_named = true;
                report.notes.push(format!(
                    "ref `{name}` moved to another layer during gc: kept"
                ));
            }
        }
        // Re-pushed since the listing: keep the layer (its pusher is writing a ref to it).
        let repushed = if opts.dry_run {
            false
        } else {
            let t = read_record(r, &l.id).await?;
            t != records.get(&l.id).copied() && is_young(now, t, grace)
        };
        if still_named || repushed {
            if repushed {
                report
                    .notes
                    .push(format!("layer {} was pushed again during gc: kept", l.id));
            }
            protected.extend(l.blobs.iter().flatten().copied());
            continue;
        }
        for (key, size) in [
            (
                manifest_key(&l.id),
                inv.manifests.get(&l.id).map(|x| x.size),
            ),
            (signature_key(&l.id), inv.sigs.get(&l.id).map(|x| x.size)),
            (pushed_key(&l.id), inv.records.get(&l.id).map(|x| x.size)),
        ] {
            if let Some(size) = size {
                if !opts.dry_run {
                    r.objects.delete(&key).await?;
                }
                deleted_keys.push((key, size));
            }
        }
        known_manifests.remove(&l.id);
    }

    // Leftovers of interrupted pushes: signatures and push records without a manifest, and
    // refs naming a manifest that is not there, once they are older than the grace period.
    let dropped_ids: HashSet<ObjectId> = dropped.iter().map(|(l, _)| l.id).collect();
    for (id, l) in inv.sigs.iter().chain(inv.records.iter()) {
        if !inv.manifests.contains_key(id)
            && !dropped_ids.contains(id)
            // The later of the backend's time and the pusher's (Redis has only the latter).
            && l.modified.max(records.get(id).copied()).is_some_and(|t| age(now, t) >= grace)
            && !r.objects.exists(&manifest_key(id)).await?
        {
            if !opts.dry_run {
                r.objects.delete(&l.key).await?;
            }
            deleted_keys.push((l.key.clone(), l.size));
        }
    }
    for (id, names) in &named {
        if inv.manifests.contains_key(id) {
            continue;
        }
        for name in names {
            let l = &inv.refs[name];
            if l.modified.is_none_or(|t| age(now, t) >= grace)
                && !r.objects.exists(&manifest_key(id)).await?
                && read_ref(r, name).await? == Some(*id)
            {
                if !opts.dry_run {
                    r.objects.delete(&l.key).await?;
                }
                report
                    .notes
                    .push(format!("ref `{name}` named missing manifest {id}: removed"));
                deleted_keys.push((l.key.clone(), l.size));
            }
        }
    }

    // Blobs no kept layer names, in batches; before each batch, manifests written since the
    // last look protect their blobs.
    let mut candidates: Vec<(ObjectId, &Listed)> = inv
        .blobs
        .iter()
        .filter(|(id, l)| !protected.contains(*id) && !is_young(now, l.modified, grace))
        .map(|(id, l)| (*id, l))
        .collect();
    candidates.sort_by(|a, b| a.1.key.cmp(&b.1.key));
    for batch in candidates.chunks(DELETE_BATCH) {
        let mut pending_push = false;
        if !opts.dry_run {
            let mut new = Vec::new();
            for l in list(r, "manifests/").await? {
                if let Some(id) = id_in(&l.key, "manifests", ".json.zst")
                    && known_manifests.insert(id)
                {
                    new.push(id);
                }
            }
            for (_, m) in read_manifests(r, new).await? {
                if let Some(Ok(m)) = m {
                    protected.extend(m.blob_ids());
                }
            }
            // Without modification times a push in flight cannot be told by its blobs: its
            // young push record without a manifest holds back every unreferenced blob.
            if batch.iter().any(|(_, l)| l.modified.is_none()) {
                for l in list(r, "pushed/").await? {
                    if let Some(id) = id_in(&l.key, "pushed", "")
                        && !known_manifests.contains(&id)
                        && is_young(now, read_record(r, &id).await?, grace)
                    {
                        pending_push = true;
                    }
                }
            }
        }
        let doomed: Vec<&(ObjectId, &Listed)> = batch
            .iter()
            .filter(|(id, l)| !(protected.contains(id) || pending_push && l.modified.is_none()))
            .collect();
        if pending_push && doomed.len() < batch.len() {
            report.notes.push(
                "a push is in flight and the backend keeps no times: unreferenced blobs it may need were kept".into(),
            );
        }
        if !opts.dry_run {
            let mut s = futures::stream::iter(
                doomed
                    .iter()
                    .map(|(_, l)| async move { r.objects.delete(&l.key).await }),
            )
            .buffer_unordered(CONCURRENCY);
            while let Some(res) = s.next().await {
                res?;
            }
        }
        for (_, l) in doomed {
            report.deleted_blobs.add(l.size);
            deleted_keys.push((l.key.clone(), l.size));
        }
    }

    for (_, size) in &deleted_keys {
        report.deleted.add(*size);
    }
    report.after = Usage {
        objects: report.before.objects - report.deleted.objects.min(report.before.objects),
        bytes: report.before.bytes.saturating_sub(report.deleted.bytes),
    };
    report.notes.sort();
    report.notes.dedup();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_keys() {
        let id = ObjectId::of_bytes(b"x");
        let h = id.to_hex();
        assert_eq!(id_in(&blob_key(&id), "blobs", ".zst"), Some(id));
        assert_eq!(
            id_in(&manifest_key(&id), "manifests", ".json.zst"),
            Some(id)
        );
        assert_eq!(id_in(&signature_key(&id), "manifests", ".sig"), Some(id));
        assert_eq!(id_in(&pushed_key(&id), "pushed", ""), Some(id));
        assert_eq!(id_in(&format!("blobs/zz/{h}.zst"), "blobs", ".zst"), None);
        assert_eq!(id_in("blobs/ab/nothex.zst", "blobs", ".zst"), None);
        assert_eq!(id_in(&signature_key(&id), "manifests", ".json.zst"), None);
    }
}
