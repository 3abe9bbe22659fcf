//! strata-remote: share layers through remote object storage.
//!
//! A remote holds the same objects as the local store, under one prefix:
//!
//! - `blobs/<xx>/<hex>.zst`: a blob's content as one zstd frame, named by the BLAKE3 of the
//!   content;
//! - `manifests/<xx>/<hex>.json.zst`: a manifest's JSON, zstd-compressed, named by the BLAKE3
//!   of the JSON; `manifests/<xx>/<hex>.sig`: its signatures, one `<key name>:<base64>` a line;
//! - `refs/<name>`: `<manifest hex>\n`, as in the local store;
//! - `pushed/<xx>/<hex>`: when a layer was last pushed (the pusher's clock, Unix seconds),
//!   written before anything else of its push, for remote gc ([`Remotes::gc`]);
//! - anything else (e.g. `nix/` for a Nix binary cache) is left to other writers
//!   ([`Remotes::put_objects`]).
//!
//! Push: blobs the remote lacks, then the manifest and its signature, then the ref — so a
//! reader never finds a ref whose layer is incomplete. Pull: the ref, the signature (checked
//! against the trusted keys before anything else is fetched), the manifest (re-hashed), the
//! missing blobs (each re-hashed before it is stored), then the manifest goes into the local
//! store and the local ref is set.
//!
//! The library never prints: a pull or push reports how far its blobs have come through a
//! [`Progress`] the caller passes, and the caller decides whether that is a bar.

mod backend;
pub mod check;
pub mod config;
mod error;
#[cfg(test)]
mod fuzz;
mod gc;
mod limits;
pub mod policy;
mod progress;
pub mod sign;
pub mod spec;
#[cfg(test)]
mod testing;

pub use backend::{
    FS_TMP_DIR, Listed, MAX_OBJECT, Objects, SERVE_LIST_PATH, init_tls, list_operator,
    listing_json, operator, operator_with,
};
pub use check::{DeepReport, Problem};
pub use config::{Config, RemoteEntry, Timeouts};
pub use error::RemoteError;
pub use gc::{DropReason, DroppedLayer, GcOptions, GcReport, Usage, VerifyReport};
pub use policy::{Publish, PublishMode, PublishPolicy};
pub use progress::{NoProgress, Progress};
pub use spec::{Backend, RemoteSpec};

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use strata_store::{Manifest, ObjectId, Store};

use crate::progress::Transferring;
use crate::sign::{PublicKey, SecretKey, Verdict};

/// Transfers in flight per remote.
const CONCURRENCY: usize = 16;
/// What is pulled is untrusted: every object has a size limit, checked while it arrives and
/// while it decompresses, so a hostile remote (or a zstd bomb) costs bounded memory and time.
/// A ref is one hex id and a newline.
pub const MAX_REF: u64 = 4 << 10;
/// Signatures: one `<key name>:<base64>` line per signer.
pub const MAX_SIGNATURES: u64 = 64 << 10;
/// A manifest's JSON, decompressed. Real layers are far smaller (about 250 bytes an entry:
/// 40 KiB for ripgrep's dependency layer); the bound keeps a pull under a few hundred MiB.
pub const MAX_MANIFEST_JSON: u64 = 128 << 20;
/// A manifest as sent (zstd), before it is decompressed.
pub const MAX_MANIFEST_ZSTD: u64 = 128 << 20;
/// Entries (and source stamps) of one manifest. Counted before the manifest is parsed, so a
/// manifest of millions of tiny entries is refused without building them in memory.
pub const MAX_MANIFEST_ENTRIES: usize = 500_000;

pub fn blob_key(id: &ObjectId) -> String {
    let h = id.to_hex();
    format!("blobs/{}/{h}.zst", &h[..2])
}

pub fn manifest_key(id: &ObjectId) -> String {
    let h = id.to_hex();
    format!("manifests/{}/{h}.json.zst", &h[..2])
}

pub fn signature_key(id: &ObjectId) -> String {
    let h = id.to_hex();
    format!("manifests/{}/{h}.sig", &h[..2])
}

/// The push record of a layer (see the crate docs).
pub fn pushed_key(id: &ObjectId) -> String {
    let h = id.to_hex();
    format!("pushed/{}/{h}", &h[..2])
}

pub fn ref_key(name: &str) -> String {
    format!("refs/{name}")
}

/// One configured remote.
pub struct Remote {
    pub spec: RemoteSpec,
    pub push: bool,
    objects: Objects,
    /// Set after the first failure: a remote that is down is asked nothing more in this
    /// command, so it costs one warning and one timeout at most.
    failed: AtomicBool,
}

impl Remote {
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }
}

/// What a pull or push did.
#[derive(Debug, Default, Clone)]
pub struct Transfer {
    pub blobs: usize,
    pub bytes: u64,
    /// Blobs already on the other side.
    pub skipped: usize,
}

/// The remotes of one command, with the runtime their async I/O runs on.
pub struct Remotes {
    remotes: Vec<Remote>,
    trusted: Vec<PublicKey>,
    signer: Option<SecretKey>,
    publish: Publish,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Remotes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remotes")
            .field(
                "remotes",
                &self
                    .remotes
                    .iter()
                    .map(|r| r.spec.display.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("trusted", &self.trusted.len())
            .field("signer", &self.signer.as_ref().map(|k| &k.name))
            .finish()
    }
}

fn corrupt(remote: &Remote, what: impl Into<String>, reason: impl Into<String>) -> RemoteError {
    RemoteError::Corrupt {
        remote: remote.spec.display.clone(),
        what: what.into(),
        reason: reason.into(),
    }
}

fn parse_ref(remote: &Remote, name: &str, bytes: &[u8]) -> Result<ObjectId, RemoteError> {
    let text = String::from_utf8_lossy(bytes);
    ObjectId::from_hex(text.trim())
        .map_err(|e| corrupt(remote, format!("ref `{name}`"), e.to_string()))
}

/// A ref named after a key must name a layer with that key: a remote cannot swap layers.
fn check_key(remote: &Remote, name: &str, id: &ObjectId, m: &Manifest) -> Result<(), RemoteError> {
    match strata_store::refs::promised_key(name) {
        Some(k) if k != m.key => Err(corrupt(
            remote,
            format!("ref `{name}`"),
            format!("it names layer {id} with key {}", m.key),
        )),
        _ => Ok(()),
    }
}

impl Remotes {
    /// Set up every configured remote. Fails only on a remote that cannot even be built from
    /// its URL (bad configuration); unreachable remotes fail later, one warning each.
    pub fn new(cfg: &Config) -> Result<Remotes, RemoteError> {
        // Few threads: decompressing and hashing is bound by the cores, and every thread that
        // allocates may get its own malloc arena (64 MiB of address space each with glibc), so
        // a pull of 16 blobs on 16 blocking threads came close to 1 GiB of address space.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(cores)
            .enable_all()
            .build()
            .map_err(RemoteError::Runtime)?;
        let mut remotes = Vec::new();
        for e in &cfg.remotes {
            // opendal's redis service needs a runtime to be built in.
            let _guard = rt.enter();
            remotes.push(Remote {
                spec: e.spec.clone(),
                push: e.push,
                objects: Objects::new(&e.spec, e.token.clone(), e.timeouts)?,
                failed: AtomicBool::new(false),
            });
        }
        Ok(Remotes {
            remotes,
            trusted: cfg.trusted.clone(),
            signer: cfg.signing_key.clone(),
            publish: cfg.publish.clone(),
            rt,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.remotes.is_empty()
    }

    pub fn remotes(&self) -> &[Remote] {
        &self.remotes
    }

    /// Whether some remote takes pushes and the publish policy lets this run push.
    pub fn can_push(&self) -> bool {
        self.publish.push && self.remotes.iter().any(|r| r.push)
    }

    /// Why this run does not push although a remote takes pushes: the publish policy's reason.
    pub fn restore_only(&self) -> Option<&str> {
        (!self.publish.push && self.remotes.iter().any(|r| r.push))
            .then_some(self.publish.reason.as_str())
    }

    pub fn publish(&self) -> &Publish {
        &self.publish
    }

    pub fn signer(&self) -> Option<&SecretKey> {
        self.signer.as_ref()
    }

    fn note(&self, remote: &Remote, e: &RemoteError) {
        if e.is_remote_failure() {
            remote.failed.store(true, Ordering::Relaxed);
        }
    }

    /// Pull ref `name` into `store` from the first remote (in order) that has it. Returns the
    /// manifest id if one was pulled, and every problem met on the way (a failed remote is
    /// reported once, then skipped for the rest of this command). The blobs' transfer is
    /// reported to `progress`.
    pub fn pull_ref(
        &self,
        store: &Arc<Store>,
        name: &str,
        progress: &dyn Progress,
    ) -> (Option<(ObjectId, Transfer)>, Vec<RemoteError>) {
        let mut errors = Vec::new();
        for r in &self.remotes {
            if r.is_failed() {
                continue;
            }
            match self.rt.block_on(self.pull_one(r, store, name, progress)) {
                Ok(Some(found)) => return (Some(found), errors),
                Ok(None) => {}
                Err(e) => {
                    self.note(r, &e);
                    errors.push(e);
                }
            }
        }
        (None, errors)
    }

    async fn pull_one(
        &self,
        r: &Remote,
        store: &Arc<Store>,
        name: &str,
        progress: &dyn Progress,
    ) -> Result<Option<(ObjectId, Transfer)>, RemoteError> {
        let Some(bytes) = r.objects.get_limited(&ref_key(name), MAX_REF).await? else {
            return Ok(None);
        };
        let id = parse_ref(r, name, &bytes)?;
        // Already here (e.g. through another ref): only the ref is new.
        if let Ok(m) = store.get_manifest(&id) {
            check_key(r, name, &id, &m)?;
            store.set_ref(name, &id)?;
            return Ok(Some((id, Transfer::default())));
        }
        // Trust first: nothing of an untrusted layer is downloaded.
        let sigs = r
            .objects
            .get_limited(&signature_key(&id), MAX_SIGNATURES)
            .await?
            .unwrap_or_default();
        let untrusted = |detail: String| RemoteError::Untrusted {
            remote: r.spec.display.clone(),
            name: name.to_string(),
            manifest: id,
            detail,
        };
        if self.trusted.is_empty() {
            return Err(untrusted(" (no trusted keys are configured)".into()));
        }
        match sign::verify(&String::from_utf8_lossy(&sigs), &id, &self.trusted) {
            Verdict::Trusted(_) => {}
            Verdict::Unsigned => return Err(untrusted(" (it has no signature)".into())),
            Verdict::UnknownSigner(names) => {
                return Err(untrusted(format!(
                    " (signed by unknown key {})",
                    names.join(", ")
                )));
            }
            Verdict::BadSignature(n) => {
                return Err(untrusted(format!(
                    " (the signature claiming key `{n}` does not verify: forged or altered)"
                )));
            }
        }
        let Some(packed) = r
            .objects
            .get_limited(&manifest_key(&id), MAX_MANIFEST_ZSTD)
            .await?
        else {
            return Err(RemoteError::Dangling {
                remote: r.spec.display.clone(),
                name: name.to_string(),
                manifest: id,
            });
        };
        let what = format!("manifest {id}");
        let mut json = Vec::new();
        zstd::stream::read::Decoder::new(&packed[..])
            .map_err(|e| corrupt(r, &what, e.to_string()))?
            .take(MAX_MANIFEST_JSON + 1)
            .read_to_end(&mut json)
            .map_err(|e| corrupt(r, &what, format!("does not decompress: {e}")))?;
        drop(packed);
        if json.len() as u64 > MAX_MANIFEST_JSON {
            return Err(corrupt(
                r,
                &what,
                format!("it decompresses to more than {MAX_MANIFEST_JSON} bytes (the limit)"),
            ));
        }
        if ObjectId::of_bytes(&json) != id {
            return Err(corrupt(r, &what, "content does not hash to its name"));
        }
        limits::check_manifest_counts::<MAX_MANIFEST_ENTRIES>(&json)
            .map_err(|e| corrupt(r, &what, e))?;
        let m: Manifest = serde_json::from_slice(&json)
            .map_err(|e| corrupt(r, &what, format!("not a manifest: {e}")))?;
        m.validate().map_err(|e| corrupt(r, &what, e.to_string()))?;
        check_key(r, name, &id, &m)?;

        let missing: Vec<(ObjectId, u64)> = m
            .entries
            .iter()
            .filter_map(|e| match e.kind {
                strata_store::EntryKind::File { blob, size, .. } => Some((blob, size)),
                _ => None,
            })
            .collect::<std::collections::HashMap<_, _>>()
            .into_iter()
            .filter(|(b, _)| !store.has_blob(b))
            .collect();
        let total: u64 = missing.iter().map(|(_, s)| s).sum();
        let transferring = Transferring::start(progress, total);
        let mut stats = Transfer {
            skipped: m.blob_ids().len() - missing.len(),
            ..Transfer::default()
        };
        let mut results = futures::stream::iter(missing.into_iter().map(|(blob, size)| {
            let objects = r.objects.clone();
            let store = Arc::clone(store);
            let remote = r.spec.display.clone();
            async move {
                // A frame of `size` bytes is never larger than zstd's compress bound; the
                // slack covers a frame header and checksum.
                let max = size.saturating_add(size / 128).saturating_add(1 << 17);
                let data = objects
                    .get_limited(&blob_key(&blob), max)
                    .await?
                    .ok_or_else(|| RemoteError::Corrupt {
                        remote: remote.clone(),
                        what: format!("layer {id}"),
                        reason: format!("blob {blob} is missing"),
                    })?;
                // Decompressing and hashing is CPU work: off the async workers.
                let put = tokio::task::spawn_blocking(move || {
                    store.put_zstd_verified(&blob, &data, size)
                })
                .await
                .map_err(|e| RemoteError::Corrupt {
                    remote: remote.clone(),
                    what: format!("blob {blob}"),
                    reason: e.to_string(),
                })?;
                match put {
                    Ok(_) => Ok(size),
                    Err(strata_store::StoreError::Corrupt { reason, .. }) => {
                        Err(RemoteError::Corrupt {
                            remote,
                            what: format!("blob {blob}"),
                            reason,
                        })
                    }
                    Err(e) => Err(RemoteError::Store(e)),
                }
            }
        }))
        .buffer_unordered(CONCURRENCY);
        let mut first_err = None;
        while let Some(res) = results.next().await {
            match res {
                Ok(size) => {
                    stats.blobs += 1;
                    stats.bytes += size;
                    progress.advance(size);
                }
                Err(e) => {
                    // The layer is refused either way: the transfers still in flight are
                    // dropped, so a slow or lying remote is not waited for once per blob.
                    first_err = Some(e);
                    break;
                }
            }
        }
        drop(results);
        drop(transferring);
        if let Some(e) = first_err {
            return Err(e);
        }
        store.put_manifest_json(&id, &json)?;
        store.set_ref(name, &id)?;
        Ok(Some((id, stats)))
    }

    /// Push local ref `name` (its layer, then the ref) to every remote that takes pushes.
    /// Returns what was sent (summed over remotes) and every problem met. Each remote's blob
    /// transfer is reported to `progress`.
    pub fn push_ref(
        &self,
        store: &Arc<Store>,
        name: &str,
        progress: &dyn Progress,
    ) -> (Transfer, Vec<RemoteError>) {
        let mut total = Transfer::default();
        let mut errors = Vec::new();
        if !self.publish.push {
            return (total, errors);
        }
        let id = match store.get_ref(name) {
            Ok(Some(id)) => id,
            Ok(None) => return (total, errors),
            Err(e) => return (total, vec![e.into()]),
        };
        for r in self.remotes.iter().filter(|r| r.push && !r.is_failed()) {
            match self
                .rt
                .block_on(self.push_one(r, store, name, &id, progress))
            {
                Ok(t) => {
                    total.blobs += t.blobs;
                    total.bytes += t.bytes;
                    total.skipped += t.skipped;
                }
                Err(e) => {
                    self.note(r, &e);
                    errors.push(e);
                }
            }
        }
        (total, errors)
    }

    async fn push_one(
        &self,
        r: &Remote,
        store: &Arc<Store>,
        name: &str,
        id: &ObjectId,
        progress: &dyn Progress,
    ) -> Result<Transfer, RemoteError> {
        let rkey = ref_key(name);
        if let Some(cur) = r.objects.get_limited(&rkey, MAX_REF).await?
            && String::from_utf8_lossy(&cur).trim() == id.to_hex()
        {
            return Ok(Transfer::default());
        }
        let signer = self.signer.as_ref().ok_or(RemoteError::NoSigningKey)?;
        let mut stats = Transfer::default();
        // First, so that remote gc sees this layer as young for the whole push.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        r.objects
            .put(&pushed_key(id), format!("{now}\n").into_bytes())
            .await?;
        // Blobs found already there: a gc that started before this push may delete them.
        let mut reused = Vec::new();
        // A manifest on the remote means its blobs are there too (manifests go last).
        if !r.objects.exists(&manifest_key(id)).await? {
            let m = store.get_manifest(id)?;
            let sizes: std::collections::HashMap<ObjectId, u64> = m
                .entries
                .iter()
                .filter_map(|e| match e.kind {
                    strata_store::EntryKind::File { blob, size, .. } => Some((blob, size)),
                    _ => None,
                })
                .collect();
            let transferring = Transferring::start(progress, sizes.values().sum());
            let mut results = futures::stream::iter(sizes.into_iter().map(|(blob, size)| {
                let objects = r.objects.clone();
                let store = Arc::clone(store);
                async move {
                    let key = blob_key(&blob);
                    if objects.exists(&key).await? {
                        return Ok((Some(blob), size));
                    }
                    let data = tokio::task::spawn_blocking(move || store.read_blob_zstd(&blob))
                        .await
                        .map_err(|e| RemoteError::Setup {
                            remote: "local".into(),
                            reason: e.to_string(),
                        })??;
                    objects.put(&key, data).await?;
                    Ok::<_, RemoteError>((None, size))
                }
            }))
            .buffer_unordered(CONCURRENCY);
            let mut first_err = None;
            while let Some(res) = results.next().await {
                match res {
                    Ok((found, size)) => {
                        if let Some(blob) = found {
                            stats.skipped += 1;
                            reused.push(blob);
                        } else {
                            stats.blobs += 1;
                            stats.bytes += size;
                        }
                        progress.advance(size);
                    }
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            drop(results);
            drop(transferring);
            if let Some(e) = first_err {
                return Err(e);
            }
            r.objects
                .put(
                    &signature_key(id),
                    format!("{}\n", signer.sign(id)).into_bytes(),
                )
                .await?;
            r.objects
                .put(&manifest_key(id), store.read_manifest_raw(id)?)
                .await?;
        } else if !r.objects.exists(&signature_key(id)).await? {
            r.objects
                .put(
                    &signature_key(id),
                    format!("{}\n", signer.sign(id)).into_bytes(),
                )
                .await?;
        }
        self.repair(r, store, id, reused).await?;
        r.objects.put(&rkey, format!("{id}\n").into_bytes()).await?;
        Ok(stats)
    }

    /// Just before a ref is written: what this push found on the remote instead of sending
    /// (the manifest, or the blobs in `reused`) may have been deleted since by a remote gc that
    /// planned before this push began. Put back whatever is gone.
    async fn repair(
        &self,
        r: &Remote,
        store: &Arc<Store>,
        id: &ObjectId,
        reused: Vec<ObjectId>,
    ) -> Result<(), RemoteError> {
        let signer = self.signer.as_ref().ok_or(RemoteError::NoSigningKey)?;
        let reused = if r.objects.exists(&manifest_key(id)).await? {
            reused
        } else {
            // The whole layer: every blob may be gone with it.
            let blobs: Vec<ObjectId> = store.get_manifest(id)?.blob_ids().into_iter().collect();
            r.objects
                .put(
                    &signature_key(id),
                    format!("{}\n", signer.sign(id)).into_bytes(),
                )
                .await?;
            blobs
        };
        let mut gone = Vec::new();
        let mut checks = futures::stream::iter(reused.into_iter().map(|blob| async move {
            r.objects.exists(&blob_key(&blob)).await.map(|e| (blob, e))
        }))
        .buffer_unordered(CONCURRENCY);
        while let Some(res) = checks.next().await {
            let (blob, there) = res?;
            if !there {
                gone.push(blob);
            }
        }
        for blob in &gone {
            let s = Arc::clone(store);
            let b = *blob;
            let data = tokio::task::spawn_blocking(move || s.read_blob_zstd(&b))
                .await
                .map_err(|e| RemoteError::Setup {
                    remote: "local".into(),
                    reason: e.to_string(),
                })??;
            r.objects.put(&blob_key(blob), data).await?;
        }
        if !r.objects.exists(&manifest_key(id)).await? {
            r.objects
                .put(&manifest_key(id), store.read_manifest_raw(id)?)
                .await?;
        }
        Ok(())
    }

    /// Write arbitrary objects (e.g. a Nix binary cache under `nix/`) to every remote that
    /// takes pushes, in the given order on each (put what others point at first).
    pub fn put_objects(&self, objects: &[(String, Vec<u8>)]) -> Vec<RemoteError> {
        let mut errors = Vec::new();
        if !self.publish.push {
            return errors;
        }
        for r in self.remotes.iter().filter(|r| r.push && !r.is_failed()) {
            let res: Result<(), RemoteError> = self.rt.block_on(async {
                for (k, v) in objects {
                    r.objects.put(k, v.clone()).await?;
                }
                Ok(())
            });
            if let Err(e) = res {
                self.note(r, &e);
                errors.push(e);
            }
        }
        errors
    }

    /// Read one object from the first remote that has it.
    pub fn get_object(&self, key: &str) -> (Option<Vec<u8>>, Vec<RemoteError>) {
        let mut errors = Vec::new();
        for r in self.remotes.iter().filter(|r| !r.is_failed()) {
            match self.rt.block_on(r.objects.get(key)) {
                Ok(Some(v)) => return (Some(v), errors),
                Ok(None) => {}
                Err(e) => {
                    self.note(r, &e);
                    errors.push(e);
                }
            }
        }
        (None, errors)
    }

    /// Ask every remote for one object that does not exist: `Ok` if it answered (with "not
    /// found"), the error otherwise. One entry per remote, in order.
    pub fn check(&self) -> Vec<(&Remote, Result<(), RemoteError>)> {
        self.remotes
            .iter()
            .map(|r| {
                let res = self
                    .rt
                    .block_on(r.objects.get("refs/strata-check-probe"))
                    .map(|_| ());
                (r, res)
            })
            .collect()
    }

    pub fn trusted(&self) -> &[PublicKey] {
        &self.trusted
    }
}

/// One remote's objects under a sub-prefix, for callers without an async runtime (the Nix
/// binary cache writer puts its objects under `nix/`).
pub struct BlockingObjects {
    objects: Objects,
    prefix: String,
    rt: tokio::runtime::Runtime,
}

impl BlockingObjects {
    /// `url` as in `STRATA_REMOTE`; `token` for `strata serve` pushes.
    pub fn open(url: &str, token: Option<String>, prefix: &str) -> Result<Self, RemoteError> {
        let spec = RemoteSpec::parse(url)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| RemoteError::Setup {
                remote: spec.display.clone(),
                reason: format!("cannot start the I/O runtime: {e}"),
            })?;
        let objects = {
            // opendal's operators want a runtime context when they are built.
            let _guard = rt.enter();
            Objects::new(
                &spec,
                token,
                config::Timeouts::from_env(&|k| std::env::var(k).ok())?,
            )?
        };
        Ok(BlockingObjects {
            objects,
            prefix: prefix.to_string(),
            rt,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub fn exists(&self, key: &str) -> Result<bool, RemoteError> {
        self.rt.block_on(self.objects.exists(&self.key(key)))
    }

    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        self.rt.block_on(self.objects.get(&self.key(key)))
    }

    pub fn put(&self, key: &str, data: Vec<u8>) -> Result<(), RemoteError> {
        self.rt.block_on(self.objects.put(&self.key(key), data))
    }
}
