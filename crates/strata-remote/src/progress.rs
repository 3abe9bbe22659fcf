//! Progress of a pull's or push's blob transfer, reported to the caller, who draws it.

/// How far the blob transfer of a pull or push has come, for the caller to show (a progress
/// bar, a log line, or nothing: [`NoProgress`]). Bytes are the blobs' uncompressed sizes, as in
/// the manifest. One transfer is `start`, `advance` once per blob, then `finish`, also when the
/// transfer fails:
///
/// - a pull is one transfer, from the remote that has the ref: `start` with the size of the
///   blobs the local store lacks, `advance` as each arrives (verified and stored);
/// - a push is one transfer per remote it sends the layer to: `start` with the size of all the
///   layer's blobs, `advance` as each is sent or found already there.
///
/// A pull or push that moves no blob (the layer is already on the other side, only its ref is
/// new) makes no call. Calls come from the thread that called
/// [`Remotes::pull_ref`](crate::Remotes::pull_ref) or
/// [`Remotes::push_ref`](crate::Remotes::push_ref).
pub trait Progress: Sync {
    /// A transfer of `total_bytes` begins.
    fn start(&self, total_bytes: u64) {
        let _ = total_bytes;
    }
    /// One more blob, of `bytes`, is done.
    fn advance(&self, bytes: u64) {
        let _ = bytes;
    }
    /// The transfer is over.
    fn finish(&self) {}
}

/// Shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {}

/// Calls `finish` however the transfer ends (an error, or its future dropped).
pub(crate) struct Transferring<'a>(&'a dyn Progress);

impl<'a> Transferring<'a> {
    pub(crate) fn start(progress: &'a dyn Progress, total_bytes: u64) -> Self {
        progress.start(total_bytes);
        Transferring(progress)
    }
}

impl Drop for Transferring<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use strata_store::{ObjectId, Store};

    use super::*;
    use crate::config::{Config, RemoteEntry};
    use crate::sign::SecretKey;
    use crate::spec::{Backend, RemoteSpec};
    use crate::testing::layer;
    use crate::{Remotes, blob_key};

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Event {
        Start(u64),
        Advance(u64),
        Finish,
    }

    /// Every call, in order.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<Event>>);

    impl Recorded {
        fn take(&self) -> Vec<Event> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    impl Progress for Recorded {
        fn start(&self, total_bytes: u64) {
            self.0.lock().unwrap().push(Event::Start(total_bytes));
        }
        fn advance(&self, bytes: u64) {
            self.0.lock().unwrap().push(Event::Advance(bytes));
        }
        fn finish(&self) {
            self.0.lock().unwrap().push(Event::Finish);
        }
    }

    /// One transfer: a start, its advances (in any order: blobs move concurrently), a finish.
    fn transfer(events: &[Event]) -> (u64, Vec<u64>) {
        let (Some(Event::Start(total)), Some(Event::Finish)) = (events.first(), events.last())
        else {
            panic!("not one whole transfer: {events:?}");
        };
        let mut done: Vec<u64> = events[1..events.len() - 1]
            .iter()
            .map(|e| match e {
                Event::Advance(n) => *n,
                other => panic!("{other:?} inside a transfer: {events:?}"),
            })
            .collect();
        done.sort_unstable();
        (*total, done)
    }

    #[test]
    fn pulls_and_pushes_report_each_blob_of_their_transfer() {
        let dir = tempfile::tempdir().unwrap();
        let remote_dir = dir.path().join("remote");
        let key = SecretKey::generate("team-1").unwrap();
        let entry = |dir: &std::path::Path| RemoteEntry {
            spec: RemoteSpec {
                display: dir.display().to_string(),
                backend: Backend::Fs {
                    dir: dir.to_path_buf(),
                },
            },
            push: true,
            token: None,
            timeouts: crate::Timeouts::default(),
        };
        let cfg = Config {
            remotes: vec![entry(&remote_dir), entry(&dir.path().join("remote2"))],
            trusted: vec![key.public()],
            signing_key: Some(key),
            ..Config::default()
        };
        let remotes = Remotes::new(&cfg).unwrap();
        let progress = Recorded::default();

        // A push: one transfer per remote, of every blob (a blob named twice counts once).
        let here = Arc::new(Store::open(dir.path().join("here")).unwrap());
        let a = layer(&here, "ka", &[b"alpha", b"shared blob", b"shared blob"]);
        here.set_ref("crates/ka/build", &a).unwrap();
        let (sent, errors) = remotes.push_ref(&here, "crates/ka/build", &progress);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!((sent.blobs, sent.bytes), (4, 32));
        let events = progress.take();
        let half = events.len() / 2;
        assert_eq!(transfer(&events[..half]), (16, vec![5, 11]));
        assert_eq!(transfer(&events[half..]), (16, vec![5, 11]));

        // Blobs already on the remote are reported as done too.
        let b = layer(&here, "kb", &[b"shared blob", b"beta content"]);
        here.set_ref("crates/kb/build", &b).unwrap();
        let (sent, errors) = remotes.push_ref(&here, "crates/kb/build", &progress);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!((sent.blobs, sent.skipped), (2, 2));
        let events = progress.take();
        assert_eq!(transfer(&events[..events.len() / 2]), (23, vec![11, 12]));

        // The layer already there: nothing moves, nothing is reported.
        let (sent, errors) = remotes.push_ref(&here, "crates/kb/build", &progress);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(sent.blobs, 0);
        assert_eq!(progress.take(), vec![]);

        // A pull: the blobs this store lacks, from the first remote.
        let there = Arc::new(Store::open(dir.path().join("there")).unwrap());
        there.put_bytes(b"shared blob").unwrap();
        let (found, errors) = remotes.pull_ref(&there, "crates/kb/build", &progress);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(found.map(|(id, t)| (id, t.blobs)), Some((b, 1)));
        assert_eq!(transfer(&progress.take()), (12, vec![12]));

        // A pull that fails on a bad blob still finishes its transfer; the next remote's
        // pull is a transfer of its own.
        std::fs::write(
            remote_dir.join(blob_key(&ObjectId::of_bytes(b"alpha"))),
            zstd::encode_all(&b"other"[..], 1).unwrap(),
        )
        .unwrap();
        let (found, errors) = remotes.pull_ref(&there, "crates/ka/build", &progress);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(found.map(|(id, _)| id), Some(a));
        let events = progress.take();
        let second = events
            .iter()
            .position(|e| *e == Event::Finish)
            .expect("a finish")
            + 1;
        let (total, _) = transfer(&events[..second]);
        assert_eq!(total, 5);
        assert_eq!(transfer(&events[second..]), (5, vec![5]));
    }
}
