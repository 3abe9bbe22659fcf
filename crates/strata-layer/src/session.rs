//! rustc's incremental sessions: which of them a dev layer needs.
//!
//! rustc keeps each crate's incremental state in `incremental/<crate>-<hash>/`, one directory per
//! compilation session: `s-<time>-<random>-<svh>` once finalized (`s-<time>-<random>-working`
//! while rustc writes it) and a lock file `s-<time>-<random>.lock`. A new session starts from the
//! newest finalized one (hardlinking its files) and deletes the older ones, so after a build two
//! finalized sessions lie on disk: the one just written and the one it started from. Only the
//! newest is ever read again, so a dev layer keeps only that one (and its lock file): half the
//! incremental files.

use std::collections::HashMap;

use crate::path::Group;
use crate::scan::ScannedFile;

/// The session a file of an incremental dir belongs to.
struct SessionOf {
    /// (profile, crate dir).
    krate: (String, String),
    /// (time, random part): the session's identity, ordered as rustc orders sessions.
    session: (u128, String),
    /// A finished session's dir (not `-working`, not a lock file).
    finalized: bool,
}

fn session_of(f: &ScannedFile) -> Option<SessionOf> {
    let Group::Incremental { profile, dir } = &f.group else {
        return None;
    };
    let rest = f.rel.split(&format!("/incremental/{dir}/")).nth(1)?;
    let name = rest.split('/').next()?;
    let (stem, finalized) = match name.strip_suffix(".lock") {
        Some(stem) => (stem, false),
        None => (name, !name.ends_with("-working")),
    };
    let mut parts = stem.strip_prefix("s-")?.split('-');
    let time = u128::from_str_radix(parts.next()?, 36).ok()?;
    let random = parts.next()?.to_string();
    Some(SessionOf {
        krate: (profile.clone(), dir.clone()),
        session: (time, random),
        finalized,
    })
}

/// `files` without the incremental files of sessions older than each crate dir's newest
/// finalized one, and without sessions still being written. Files whose names do not follow
/// rustc's scheme are kept.
pub fn newest_sessions<'a>(files: &[&'a ScannedFile]) -> Vec<&'a ScannedFile> {
    let mut newest: HashMap<(String, String), (u128, String)> = HashMap::new();
    for s in files.iter().filter_map(|f| session_of(f)) {
        if !s.finalized {
            continue;
        }
        let best = newest.entry(s.krate).or_insert_with(|| s.session.clone());
        if s.session > *best {
            *best = s.session;
        }
    }
    files
        .iter()
        .copied()
        .filter(|f| match session_of(f) {
            None => true,
            Some(s) => newest.get(&s.krate) == Some(&s.session),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str) -> ScannedFile {
        ScannedFile {
            rel: rel.into(),
            group: crate::path::classify(rel),
            size: 1,
            mtime: strata_store::FileTime { secs: 1, nanos: 0 },
            executable: false,
            symlink: None,
        }
    }

    #[test]
    fn keeps_the_newest_finalized_session_of_each_crate_and_its_lock() {
        let rels = [
            // xh: two finalized sessions (base36 times: "homq8iafea" > "homq8hj5cl") and a
            // session rustc is still writing.
            "debug/incremental/xh-3ng51lj9fuodj/s-homq8hj5cl-0xouxkj-06dv4z8nuqv0dzt4w2jio4cxn/dep-graph.bin",
            "debug/incremental/xh-3ng51lj9fuodj/s-homq8hj5cl-0xouxkj.lock",
            "debug/incremental/xh-3ng51lj9fuodj/s-homq8iafea-0mdj3tq-3f8xaklyr2t90cijeypydjdn2/dep-graph.bin",
            "debug/incremental/xh-3ng51lj9fuodj/s-homq8iafea-0mdj3tq-3f8xaklyr2t90cijeypydjdn2/query-cache.bin",
            "debug/incremental/xh-3ng51lj9fuodj/s-homq8iafea-0mdj3tq.lock",
            "debug/incremental/xh-3ng51lj9fuodj/s-homq8zzzzz-1aaaaaa-working/dep-graph.bin",
            // Another crate with one session; a longer time string sorts by value, not text.
            "debug/incremental/lib-0000000000000/s-zzzzzzzzz-aaaaaaa-svh/work-products.bin",
            "debug/incremental/lib-0000000000000/s-1000000000-bbbbbbb-svh/work-products.bin",
            // Not rustc's scheme, and not incremental at all: kept.
            "debug/incremental/xh-3ng51lj9fuodj/notes.txt",
            "debug/deps/libxh-0123456789abcdef.rlib",
        ];
        let files: Vec<ScannedFile> = rels.iter().map(|r| file(r)).collect();
        let refs: Vec<&ScannedFile> = files.iter().collect();
        let kept: Vec<&str> = newest_sessions(&refs)
            .iter()
            .map(|f| f.rel.as_str())
            .collect();
        assert_eq!(
            kept,
            [
                "debug/incremental/xh-3ng51lj9fuodj/s-homq8iafea-0mdj3tq-3f8xaklyr2t90cijeypydjdn2/dep-graph.bin",
                "debug/incremental/xh-3ng51lj9fuodj/s-homq8iafea-0mdj3tq-3f8xaklyr2t90cijeypydjdn2/query-cache.bin",
                "debug/incremental/xh-3ng51lj9fuodj/s-homq8iafea-0mdj3tq.lock",
                "debug/incremental/lib-0000000000000/s-1000000000-bbbbbbb-svh/work-products.bin",
                "debug/incremental/xh-3ng51lj9fuodj/notes.txt",
                "debug/deps/libxh-0123456789abcdef.rlib",
            ]
        );
    }
}
