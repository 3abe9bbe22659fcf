//! The remote cache in the flow: on a local miss, a ref is pulled from the remotes into the
//! local store (then the local path proceeds as on a hit); after a successful build, the
//! session's layers are pushed. Remote problems are warnings, never a failed build.

use std::sync::{Arc, Mutex, PoisonError};

use indicatif::ProgressBar;
use strata_store::{ObjectId, Store};

use crate::report::{Reporter, human_bytes};
use crate::session::Session;

/// A pull's or push's transfer drawn as the reporter's bar (so hidden with `-q` or when stderr
/// is not a terminal): one bar per transfer, made when its size is known.
struct Bar<'a> {
    rep: &'a Reporter,
    what: &'static str,
    bar: Mutex<Option<ProgressBar>>,
}

impl<'a> Bar<'a> {
    fn new(rep: &'a Reporter, what: &'static str) -> Self {
        Bar {
            rep,
            what,
            bar: Mutex::new(None),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        // A bar is only drawn: one left behind by a panic is still fine to use.
        self.bar.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl strata_remote::Progress for Bar<'_> {
    fn start(&self, total_bytes: u64) {
        let new = self.rep.rate_bar(total_bytes, self.what);
        if let Some(old) = self.slot().replace(new) {
            old.finish_and_clear();
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = self.slot().as_ref() {
            bar.inc(bytes);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.slot().take() {
            bar.finish_and_clear();
        }
    }
}

/// The store again, shareable with the transfer threads.
fn shared_store(s: &Session, rep: &Reporter) -> Option<Arc<Store>> {
    match Store::open(s.store.root()) {
        Ok(st) => Some(Arc::new(st)),
        Err(e) => {
            rep.warn(&format!("{e}; not using the remote cache"));
            None
        }
    }
}

fn warn_all(rep: &Reporter, errors: Vec<strata_remote::RemoteError>, then: &str) {
    for e in errors {
        rep.warn(&format!("{e}\n  {then}"));
    }
}

/// Pull ref `name` from the remotes after a local miss; the id now in the local store.
pub fn pull(s: &Session, name: &str, rep: &Reporter) -> Option<ObjectId> {
    let remotes = s.remotes.as_ref()?;
    let store = shared_store(s, rep)?;
    let (found, errors) = remotes.pull_ref(&store, name, &Bar::new(rep, "Pulling"));
    warn_all(rep, errors, "building without it");
    let (id, t) = found?;
    rep.status(
        "Pulled",
        &format!(
            "{name}: {} blobs ({}), {} already here",
            t.blobs,
            human_bytes(t.bytes),
            t.skipped
        ),
    );
    Some(id)
}

/// Push the layers this session saved or restored from its exact keys: `names`, the refs it
/// wrote or hit. Each name is pushed with its layer; concurrent pushers of other scopes write
/// other names, so nothing is lost without a lock.
///
/// When the publish policy says restore-only (a pull request, an unprotected branch), one
/// status line says why and nothing is pushed. Without a signing key nothing is pushed; that is worth a warning only when this build saved a
/// new layer (a machine that only pulls has no key, by design).
pub fn push(s: &Session, names: &[String], rep: &Reporter, saved_new: bool) {
    let Some(remotes) = &s.remotes else { return };
    if let Some(why) = remotes.restore_only().filter(|_| !names.is_empty()) {
        rep.status("Strata", &format!("pushes nothing: {why}"));
    }
    if !remotes.can_push() || names.is_empty() {
        return;
    }
    if remotes.signer().is_none() {
        if saved_new {
            rep.warn(&format!(
                "{}\n  not pushing the new layers to the remote cache",
                strata_remote::RemoteError::NoSigningKey
            ));
        }
        return;
    }
    let Some(store) = shared_store(s, rep) else {
        return;
    };
    let mut unique: Vec<&String> = names.iter().collect();
    unique.sort();
    unique.dedup();
    let (mut blobs, mut bytes) = (0, 0);
    let bar = Bar::new(rep, "Pushing");
    for name in unique {
        let (t, errors) = remotes.push_ref(&store, name, &bar);
        warn_all(
            rep,
            errors,
            "the build is not affected; a later push completes the layer",
        );
        blobs += t.blobs;
        bytes += t.bytes;
    }
    if blobs > 0 {
        rep.status(
            "Pushed",
            &format!("{blobs} blobs ({}) to the remote cache", human_bytes(bytes)),
        );
    }
}
