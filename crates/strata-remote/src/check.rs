//! A deep check of a remote: every ref it lists names a layer that a pull would accept whole.
//!
//! `strata remote check` only asks whether a remote answers. After a push was cut short (a killed
//! CI job, a dropped connection) the question is whether a ref got ahead of its objects: push
//! writes blobs, then the signature and the manifest, then the ref, so no ref may name a missing
//! manifest, a manifest without its signature, or a missing or corrupt blob. This reads them all.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use futures::StreamExt;
use strata_store::{EntryKind, Manifest, ObjectId};

use crate::sign::{self, Verdict};
use crate::{
    CONCURRENCY, MAX_MANIFEST_JSON, Remote, RemoteError, Remotes, blob_key, manifest_key, ref_key,
    signature_key,
};

/// One thing a deep check found wrong, named so that it can be found on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The object, e.g. ``ref `deps/…/build` `` or `blob 12ab… of manifest 34cd…`.
    pub what: String,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.reason)
    }
}

/// What a deep check of one remote read and found.
#[derive(Debug, Clone, Default)]
pub struct DeepReport {
    pub refs: usize,
    /// Distinct manifests the refs name that were read and re-hashed.
    pub manifests: usize,
    /// Distinct blobs the manifests name that were downloaded and re-hashed.
    pub blobs: usize,
    pub problems: Vec<Problem>,
}

impl DeepReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

fn problem(what: impl Into<String>, reason: impl Into<String>) -> Problem {
    Problem {
        what: what.into(),
        reason: reason.into(),
    }
}

impl Remotes {
    /// Deep-check every remote, in order: list its refs and confirm that each names a manifest
    /// that is there, hashes to its name, parses, validates, keeps the key its ref name promises
    /// and carries a signature (checked against the trusted keys when there are any), and that
    /// every blob the manifest names is there and decompresses to content with its hash. An `Err`
    /// is a remote that could not be read (or listed); problems with its objects are in the
    /// report.
    pub fn check_deep(&self) -> Vec<(&Remote, Result<DeepReport, RemoteError>)> {
        self.remotes
            .iter()
            .map(|r| (r, self.rt.block_on(self.check_one(r))))
            .collect()
    }

    async fn check_one(&self, r: &Remote) -> Result<DeepReport, RemoteError> {
        let mut report = DeepReport::default();
        let names: Vec<String> = r
            .objects
            .list(&r.spec, "refs/")
            .await?
            .into_iter()
            .filter_map(|l| l.key.strip_prefix("refs/").map(str::to_string))
            .collect();
        // Ref name → manifest id, for the refs that parse.
        let mut named: BTreeMap<ObjectId, Vec<String>> = BTreeMap::new();
        for name in names {
            report.refs += 1;
            let what = format!("ref `{name}`");
            let Some(bytes) = r.objects.get(&ref_key(&name)).await? else {
                // Listed a moment ago: removed since (by hand; strata never deletes remote refs).
                report.problems.push(problem(what, "listed but gone"));
                continue;
            };
            match ObjectId::from_hex(String::from_utf8_lossy(&bytes).trim()) {
                Ok(id) => named.entry(id).or_default().push(name),
                Err(e) => report
                    .problems
                    .push(problem(what, format!("does not hold a manifest id: {e}"))),
            }
        }

        let mut blobs: HashSet<ObjectId> = HashSet::new();
        for (id, refs) in &named {
            let m = match self.check_manifest(r, id, refs).await? {
                Ok(m) => m,
                Err(p) => {
                    report.problems.push(p);
                    continue;
                }
            };
            report.manifests += 1;
            for name in refs {
                if let Some(k) = strata_store::refs::promised_key(name)
                    && k != m.key
                {
                    report.problems.push(problem(
                        format!("ref `{name}`"),
                        format!("names layer {id} with key {}", m.key),
                    ));
                }
            }
            blobs.extend(m.entries.iter().filter_map(|e| match e.kind {
                EntryKind::File { blob, .. } => Some(blob),
                _ => None,
            }));
        }

        let mut blobs: Vec<ObjectId> = blobs.into_iter().collect();
        blobs.sort();
        let mut results = futures::stream::iter(blobs.into_iter().map(|blob| {
            let objects = r.objects.clone();
            async move {
                let what = format!("blob {blob}");
                let Some(data) = objects.get(&blob_key(&blob)).await? else {
                    return Ok(Some(problem(what, "missing")));
                };
                // Decompressing and hashing is CPU work: off the async workers.
                let bad = tokio::task::spawn_blocking(move || blob_problem(&blob, &data))
                    .await
                    .map_err(|e| RemoteError::Setup {
                        remote: "local".into(),
                        reason: e.to_string(),
                    })?;
                Ok::<_, RemoteError>(bad.map(|reason| problem(what, reason)))
            }
        }))
        .buffer_unordered(CONCURRENCY);
        while let Some(res) = results.next().await {
            report.blobs += 1;
            if let Some(p) = res? {
                report.problems.push(p);
            }
        }
        Ok(report)
    }

    /// Manifest `id` as a pull would accept it, or what is wrong with it (or its signature).
    async fn check_manifest(
        &self,
        r: &Remote,
        id: &ObjectId,
        refs: &[String],
    ) -> Result<Result<Manifest, Problem>, RemoteError> {
        let what = format!("manifest {id} (ref `{}`)", refs.join("`, `"));
        let Some(packed) = r.objects.get(&manifest_key(id)).await? else {
            return Ok(Err(problem(what, "missing")));
        };
        let mut json = Vec::new();
        let read = zstd::stream::read::Decoder::new(&packed[..]).and_then(|d| {
            d.take(MAX_MANIFEST_JSON + 1)
                .read_to_end(&mut json)
                .map(|_| ())
        });
        if let Err(e) = read {
            return Ok(Err(problem(what, format!("does not decompress: {e}"))));
        }
        if ObjectId::of_bytes(&json) != *id {
            return Ok(Err(problem(what, "content does not hash to its name")));
        }
        let m: Manifest = match serde_json::from_slice(&json) {
            Ok(m) => m,
            Err(e) => return Ok(Err(problem(what, format!("not a manifest: {e}")))),
        };
        if let Err(e) = m.validate() {
            return Ok(Err(problem(what, e.to_string())));
        }
        let sigs = r.objects.get(&signature_key(id)).await?;
        let sigs = String::from_utf8_lossy(sigs.as_deref().unwrap_or_default()).into_owned();
        let verdict = sign::verify(&sigs, id, &self.trusted);
        let bad_sig = match verdict {
            Verdict::Trusted(_) => None,
            Verdict::Unsigned => Some("has no signature (a pull refuses it)".to_string()),
            // Without trusted keys here, any signature is all this machine can check.
            Verdict::UnknownSigner(_) if self.trusted.is_empty() => None,
            Verdict::UnknownSigner(names) => Some(format!(
                "signed by {}, which no trusted key names",
                names.join(", ")
            )),
            Verdict::BadSignature(n) => Some(format!("the signature of `{n}` does not verify")),
        };
        Ok(match bad_sig {
            Some(reason) => Err(problem(what, reason)),
            None => Ok(m),
        })
    }
}

/// Why the zstd frame `data` is not blob `id`, if it is not.
fn blob_problem(id: &ObjectId, data: &[u8]) -> Option<String> {
    let mut hasher = blake3::Hasher::new();
    let res =
        zstd::stream::read::Decoder::new(data).and_then(|mut d| std::io::copy(&mut d, &mut hasher));
    match res {
        Err(e) => Some(format!("does not decompress: {e}")),
        Ok(_) => {
            let actual = ObjectId::from(hasher.finalize());
            (actual != *id).then(|| format!("content hashes to {actual}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use strata_store::Store;

    use super::*;
    use crate::config::{Config, RemoteEntry};
    use crate::sign::SecretKey;
    use crate::spec::{Backend, RemoteSpec};
    use crate::testing::layer;

    fn reasons(r: &DeepReport) -> Vec<String> {
        r.problems.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn deep_check_finds_what_a_ref_names_and_the_remote_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path().join("store")).unwrap());
        let remote_dir = dir.path().join("remote");
        let key = SecretKey::generate("team-1").unwrap();
        let cfg = Config {
            remotes: vec![RemoteEntry {
                spec: RemoteSpec {
                    display: remote_dir.display().to_string(),
                    backend: Backend::Fs {
                        dir: remote_dir.clone(),
                    },
                },
                push: true,
                token: None,
                timeouts: crate::Timeouts::default(),
            }],
            trusted: vec![key.public()],
            signing_key: Some(key),
            ..Config::default()
        };
        let remotes = Remotes::new(&cfg).unwrap();
        let a = layer(&store, "ka", &[b"alpha content", b"shared content"]);
        let b = layer(&store, "kb", &[b"beta content", b"shared content"]);
        store.set_ref("crates/ka/build", &a).unwrap();
        store.set_ref("projects/p/last", &b).unwrap();
        for name in ["crates/ka/build", "projects/p/last"] {
            let (_, errors) = remotes.push_ref(&store, name, &crate::NoProgress);
            assert!(errors.is_empty(), "{errors:?}");
        }

        let deep = |remotes: &Remotes| {
            let mut all = remotes.check_deep();
            assert_eq!(all.len(), 1);
            all.remove(0).1.unwrap()
        };
        let clean = deep(&remotes);
        assert!(clean.is_clean(), "{:?}", clean.problems);
        assert_eq!((clean.refs, clean.manifests, clean.blobs), (2, 2, 3));

        // A blob gone, another altered: each is named.
        let blob_file = |content: &[u8]| remote_dir.join(blob_key(&ObjectId::of_bytes(content)));
        std::fs::remove_file(blob_file(b"alpha content")).unwrap();
        std::fs::write(
            blob_file(b"beta content"),
            zstd::encode_all(&b"other bytes"[..], 1).unwrap(),
        )
        .unwrap();
        let r = deep(&remotes);
        let alpha = ObjectId::of_bytes(b"alpha content");
        let beta = ObjectId::of_bytes(b"beta content");
        let mut want = vec![
            format!("blob {alpha}: missing"),
            format!(
                "blob {beta}: content hashes to {}",
                ObjectId::of_bytes(b"other bytes")
            ),
        ];
        want.sort();
        let mut got = reasons(&r);
        got.sort();
        assert_eq!(got, want);

        // A ref ahead of its manifest, a manifest without its signature, a ref that is not an id,
        // and a ref whose name promises another key.
        std::fs::remove_file(remote_dir.join(signature_key(&b))).unwrap();
        let ghost = ObjectId::of_bytes(b"never pushed");
        std::fs::write(
            remote_dir.join("refs/projects/p/ghost"),
            format!("{ghost}\n"),
        )
        .unwrap();
        std::fs::write(remote_dir.join("refs/projects/p/junk"), "not an id\n").unwrap();
        std::fs::create_dir_all(remote_dir.join("refs/crates/kz")).unwrap();
        std::fs::write(remote_dir.join("refs/crates/kz/build"), format!("{a}\n")).unwrap();
        let r = deep(&remotes);
        let all = reasons(&r).join("\n");
        assert_eq!(r.refs, 5, "{all}");
        for want in [
            format!("manifest {ghost} (ref `projects/p/ghost`): missing"),
            format!("manifest {b} (ref `projects/p/last`): has no signature (a pull refuses it)"),
            "ref `projects/p/junk`: does not hold a manifest id".to_string(),
            format!("ref `crates/kz/build`: names layer {a} with key ka"),
            format!("blob {alpha}: missing"),
        ] {
            assert!(all.contains(&want), "wanted {want:?} in\n{all}");
        }
        // The unsigned layer's blobs are not read (a pull stops at its signature).
        assert!(!all.contains(&format!("blob {beta}")), "{all}");
    }
}
