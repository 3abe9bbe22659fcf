//! Property tests of what a remote and its configuration hand strata: remote URLs, the config
//! file, keys, signature files, and the objects a remote serves (refs, signatures, manifests,
//! blobs), pulled from a real directory remote. Arbitrary and mutated inputs must never panic,
//! must fail with an error that names the file or remote and the problem, and must never show a
//! password or a secret key; a layer pulled must be exactly a layer that was signed.
//!
//! Cases per property: `PROPTEST_CASES` (default 2000).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use proptest::collection::vec;
use proptest::prelude::*;
use strata_proptest::{check, check_scaled, fast_tempdir, mutate};
use strata_store::{Entry, EntryKind, FileTime, MANIFEST_FORMAT, Manifest, ObjectId, Store};

use crate::config::Config;
use crate::sign::{self, PublicKey, SecretKey, Verdict};
use crate::spec::RemoteSpec;
use crate::{RemoteEntry, RemoteError, Remotes};

// ---------------------------------------------------------------- remote URLs

/// A password no other part of a generated URL can contain (they are lowercase).
fn password() -> impl Strategy<Value = String> {
    "[A-Z]{10}".prop_map(|p| format!("PW{p}"))
}

fn remote_url() -> impl Strategy<Value = (String, Option<String>)> {
    let scheme = prop_oneof![
        Just("s3"),
        Just("redis"),
        Just("http"),
        Just("https"),
        Just("webdav+http"),
        Just("webdav+https"),
        Just("file"),
        Just("ftp"),
        Just(""),
    ];
    let host = prop_oneof![
        4 => "[a-z0-9.-]{0,12}",
        1 => Just("127.0.0.1".to_string()),
        1 => Just("[::1]".to_string()),
        1 => "\\PC{0,6}",
    ];
    let port = prop_oneof![
        3 => Just(String::new()),
        2 => (0u32..70000).prop_map(|p| format!(":{p}")),
        1 => "[a-z]{1,3}".prop_map(|p| format!(":{p}")),
    ];
    let path = prop_oneof![
        2 => "(/[a-z0-9]{0,6}){0,3}",
        1 => "/\\PC{0,10}",
    ];
    let query = vec(
        (
            prop_oneof![
                Just("endpoint"),
                Just("region"),
                Just("virtual_host"),
                Just("prefix"),
                Just("bogus")
            ],
            prop_oneof![
                Just("http://127.0.0.1:3900".to_string()),
                Just("1".to_string()),
                "[a-z:/%]{0,8}",
            ],
        ),
        0..3,
    );
    (
        scheme,
        proptest::option::of(("[a-z]{0,5}", proptest::option::of(password()))),
        host,
        port,
        path,
        query,
        prop_oneof![4 => Just(""), 1 => Just("  "), 1 => Just("#frag")],
    )
        .prop_map(|(scheme, user, host, port, path, query, tail)| {
            let mut s = format!("{scheme}://");
            let mut pw = None;
            if let Some((name, p)) = user {
                s.push_str(&name);
                if let Some(p) = p {
                    s.push(':');
                    s.push_str(&p);
                    pw = Some(p);
                }
                s.push('@');
            }
            s.push_str(&host);
            s.push_str(&port);
            s.push_str(&path);
            if !query.is_empty() {
                let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push('?');
                s.push_str(&q.join("&"));
            }
            s.push_str(tail);
            (s, pw)
        })
}

#[test]
fn remote_urls_parse_or_say_why_without_showing_passwords() {
    check(
        prop_oneof![
            4 => remote_url(),
            1 => "\\PC{0,40}".prop_map(|s| (s, None)),
            1 => "/\\PC{0,20}".prop_map(|s| (s, None)),
        ],
        |(url, pw)| {
            match RemoteSpec::parse(&url) {
                Ok(spec) => {
                    if let Some(pw) = &pw {
                        prop_assert!(!spec.display.contains(pw.as_str()), "{}", spec.display);
                        prop_assert!(!spec.to_string().contains(pw.as_str()));
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(matches!(e, RemoteError::BadUrl { .. }), "{msg}");
                    prop_assert!(msg.starts_with("bad remote URL `"), "{msg}");
                    if let Some(pw) = &pw {
                        prop_assert!(!msg.contains(pw.as_str()), "shows the password: {msg}");
                    }
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- keys and signatures

fn key_name() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z0-9.-]{1,12}", 1 => "\\PC{0,8}"]
}

/// `name:base64(seed ‖ public)` of the key with this seed.
fn secret_text(name: &str, seed: [u8; 32]) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    format!("{name}:{}", B64.encode(key.to_keypair_bytes()))
}

#[test]
fn keys_round_trip_and_bad_ones_say_why() {
    check(("[a-z0-9.-]{1,12}", any::<[u8; 32]>()), |(name, seed)| {
        let text = secret_text(&name, seed);
        let sk = SecretKey::parse(&text).unwrap();
        prop_assert_eq!(sk.to_text(), text);
        let pk = PublicKey::parse(&sk.public().to_text()).unwrap();
        prop_assert_eq!(&pk, &sk.public());
        let id = ObjectId::from_bytes(seed);
        prop_assert_eq!(
            sign::verify(&sk.sign(&id), &id, &[pk]),
            Verdict::Trusted(name)
        );
        Ok(())
    });
    check(
        prop_oneof![
            2 => "\\PC{0,60}",
            2 => (key_name(), vec(any::<u8>(), 0..70)).prop_map(|(n, b)| format!("{n}:{}", B64.encode(b))),
            1 => (key_name(), "[A-Za-z0-9+/=]{0,100}").prop_map(|(n, b)| format!("{n}:{b}")),
        ],
        |text| {
            for res in [
                SecretKey::parse(&text).map(|_| ()),
                PublicKey::parse(&text).map(|_| ()),
            ] {
                if let Err(e) = res {
                    prop_assert!(matches!(e, RemoteError::BadKey { .. }), "{e}");
                    prop_assert!(e.to_string().starts_with("bad key `"), "{e}");
                }
            }
            Ok(())
        },
    );
}

/// Every 12-character piece of `secret`'s text.
fn pieces(secret: &str) -> Vec<&str> {
    (0..secret.len().saturating_sub(11))
        .filter_map(|i| secret.get(i..i + 12))
        .collect()
}

/// A damaged secret key file must not end up in an error message (or a log, or a CI page).
#[test]
fn damaged_secret_keys_are_not_shown() {
    check(
        (
            "[a-z0-9-]{1,8}",
            any::<[u8; 32]>(),
            vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..3),
        ),
        |(name, seed, mutations)| {
            let text = secret_text(&name, seed);
            let b64 = text.split_once(':').unwrap().1.to_string();
            let mut bytes = text.into_bytes();
            for (how, at, byte) in mutations {
                bytes = mutate(&bytes, how, at, byte);
            }
            let damaged = String::from_utf8_lossy(&bytes);
            if let Err(e) = SecretKey::parse(&damaged) {
                let msg = e.to_string();
                for piece in pieces(&b64) {
                    prop_assert!(!msg.contains(piece), "shows key material: {msg}");
                }
            }
            Ok(())
        },
    );
}

#[test]
fn signature_files_never_panic_and_garbage_does_not_hide_a_good_signature() {
    let key = SecretKey::parse(&secret_text("team-1", [7; 32])).unwrap();
    let other = SecretKey::parse(&secret_text("team-1", [8; 32])).unwrap();
    let trusted = [key.public()];
    check(
        (
            any::<[u8; 32]>(),
            vec(
                prop_oneof![
                    3 => "\\PC{0,40}",
                    1 => "team-1:[A-Za-z0-9+/=]{0,90}",
                    1 => Just("team-1:".to_string()),
                    1 => Just(":".to_string()),
                ],
                0..5,
            ),
            any::<usize>(),
            any::<bool>(),
        ),
        |(id, garbage, at, forged)| {
            let id = ObjectId::from_bytes(id);
            let mut lines = garbage.clone();
            let without = lines.join("\n");
            prop_assert_ne!(
                sign::verify(&without, &id, &trusted),
                Verdict::Trusted("team-1".into())
            );
            let signer = if forged { &other } else { &key };
            lines.insert(at % (lines.len() + 1), signer.sign(&id));
            let verdict = sign::verify(&lines.join("\n"), &id, &trusted);
            if forged {
                prop_assert_ne!(verdict, Verdict::Trusted("team-1".into()));
            } else {
                prop_assert_eq!(verdict, Verdict::Trusted("team-1".into()));
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- the config file

/// Lines of a config file: mostly its own keys, with good and bad values.
fn config_text(key_file: String) -> impl Strategy<Value = String> {
    let good_pk = SecretKey::parse(&secret_text("t", [3; 32]))
        .unwrap()
        .public()
        .to_text();
    let line = prop_oneof![
        2 => Just(format!("signing_key = {key_file:?}")),
        1 => Just("signing_key = \"/nonexistent/strata-key\"".to_string()),
        1 => Just("signing_key = 7".to_string()),
        2 => Just(format!("trusted_keys = [{good_pk:?}]")),
        1 => "[a-zA-Z0-9:+/=]{0,50}".prop_map(|k| format!("trusted_keys = [{k:?}]")),
        3 => remote_url().prop_map(|(u, _)| format!("[[remote]]\nurl = {u:?}")),
        2 => Just("[[remote]]\nurl = \"file:///tmp/strata-remote\"".to_string()),
        1 => prop_oneof![Just("true"), Just("false"), Just("\"yes\"")].prop_map(|v| format!("push = {v}")),
        1 => prop_oneof![Just("TOK"), Just("UNSET_VAR")].prop_map(|v| format!("token_env = {v:?}")),
        1 => "[a-z_]{1,10} = [0-9]{1,3}",
        1 => "\\PC{0,30}",
        1 => Just("[[remote]]".to_string()),
        1 => Just("[remote]\nurl = 1".to_string()),
    ];
    vec(line, 0..8).prop_map(|lines| lines.join("\n"))
}

#[test]
fn config_files_load_or_name_the_file_and_the_problem() {
    let dir = fast_tempdir();
    let cfg_path = dir.path().join("config.toml");
    let key_path = dir.path().join("signing.key");
    let secret = secret_text("ci", [9; 32]);
    let b64 = secret.split_once(':').unwrap().1.to_string();
    let vars: HashMap<&str, String> = HashMap::from([
        ("STRATA_CONFIG", cfg_path.display().to_string()),
        ("TOK", "token".to_string()),
    ]);
    check_scaled(
        2,
        (
            config_text(key_path.display().to_string()),
            vec((any::<u8>(), any::<usize>(), any::<u8>()), 0..2),
            vec((any::<u8>(), any::<usize>(), any::<u8>()), 0..2),
        ),
        |(text, mutations, key_mutations)| {
            let mut bytes = text.into_bytes();
            for (how, at, byte) in mutations {
                bytes = mutate(&bytes, how, at, byte);
            }
            std::fs::write(&cfg_path, &bytes).unwrap();
            let mut key = secret.clone().into_bytes();
            for (how, at, byte) in key_mutations {
                key = mutate(&key, how, at, byte);
            }
            std::fs::write(&key_path, &key).unwrap();
            match Config::load_with(&|k| vars.get(k).cloned()) {
                Ok(cfg) => {
                    for r in &cfg.remotes {
                        prop_assert!(!r.spec.display.contains("PW"), "{}", r.spec.display);
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    match &e {
                        RemoteError::Config { path, .. } => {
                            prop_assert!(path == &cfg_path || path == &key_path, "{}", msg)
                        }
                        // The signing key file it names, or the config file itself.
                        RemoteError::Io { path, .. } => {
                            prop_assert!(msg.starts_with(&path.display().to_string()), "{}", msg)
                        }
                        _ => prop_assert!(false, "unexpected error: {msg}"),
                    }
                    prop_assert!(!msg.contains("PW"), "shows a password: {msg}");
                    for piece in pieces(&b64) {
                        prop_assert!(!msg.contains(piece), "shows key material: {msg}");
                    }
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- objects a remote serves

/// What a remote serves for one ref, and how it is damaged.
#[derive(Debug, Clone)]
struct Served {
    contents: Vec<Vec<u8>>,
    /// Mutations of the manifest's JSON before it is named and signed: a signer that signed
    /// garbage (or a hostile one with a trusted key) must still not get it restored.
    json_mutations: Vec<(u8, usize, u8)>,
    /// 0 trusted key, 1 unknown key, 2 trusted name with another key, 3 garbage, 4 none.
    signer: u8,
    /// Which object is damaged after signing: 0 none, 1 ref, 2 signature, 3 manifest file,
    /// 4 a blob, 5 a blob missing, 6 the manifest missing.
    damaged: u8,
    damage: (u8, usize, u8),
}

fn served() -> impl Strategy<Value = Served> {
    (
        vec(vec(any::<u8>(), 0..300), 1..4),
        prop_oneof![3 => Just(vec![]), 1 => vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..3)],
        prop_oneof![4 => Just(0u8), 1 => 1u8..5],
        prop_oneof![2 => Just(0u8), 3 => 1u8..7],
        (any::<u8>(), any::<usize>(), any::<u8>()),
    )
        .prop_map(
            |(contents, json_mutations, signer, damaged, damage)| Served {
                contents,
                json_mutations,
                signer,
                damaged,
                damage,
            },
        )
}

fn put(root: &Path, key: &str, bytes: &[u8]) {
    let p = root.join(key);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

#[test]
fn pulled_objects_are_verified_or_refused_cleanly() {
    let dir = fast_tempdir();
    let remote_dir = dir.path().join("remote");
    std::fs::create_dir_all(&remote_dir).unwrap();
    let key = SecretKey::parse(&secret_text("team-1", [1; 32])).unwrap();
    let stranger = SecretKey::parse(&secret_text("stranger", [2; 32])).unwrap();
    let forger = SecretKey::parse(&secret_text("team-1", [3; 32])).unwrap();
    let spec = RemoteSpec::parse(&remote_dir.display().to_string()).unwrap();
    let cfg = Config {
        remotes: vec![RemoteEntry {
            spec: spec.clone(),
            push: false,
            token: None,
            timeouts: crate::Timeouts::default(),
        }],
        trusted: vec![key.public()],
        signing_key: None,
        signing_key_path: None,
        ..Config::default()
    };
    let remotes = Remotes::new(&cfg).unwrap();
    let case = std::cell::Cell::new(0u32);
    check_scaled(4, served(), |s| {
        case.set(case.get() + 1);
        let store = Arc::new(Store::open(dir.path().join(format!("store{}", case.get()))).unwrap());
        let _ = std::fs::remove_dir_all(&remote_dir);
        let name = "deps/k/build";
        let entries: Vec<Entry> = s
            .contents
            .iter()
            .enumerate()
            .map(|(i, c)| Entry {
                path: format!("release/deps/f{i}"),
                mtime: FileTime { secs: 1, nanos: 0 },
                kind: EntryKind::File {
                    blob: ObjectId::of_bytes(c),
                    size: c.len() as u64,
                    executable: false,
                },
            })
            .collect();
        let m = Manifest {
            format: MANIFEST_FORMAT,
            kind: "deps".into(),
            key: "k".into(),
            parent: None,
            created_unix_secs: 1,
            entries,
            sources: vec![],
            meta: Default::default(),
        };
        let mut json = serde_json::to_vec(&m).unwrap();
        for (how, at, byte) in &s.json_mutations {
            json = mutate(&json, *how, *at, *byte);
        }
        let id = ObjectId::of_bytes(&json);
        let sig = match s.signer {
            0 => key.sign(&id),
            1 => stranger.sign(&id),
            2 => forger.sign(&id),
            3 => "team-1:bm90IGEgc2lnbmF0dXJl".to_string(),
            _ => String::new(),
        };
        let mut objects: Vec<(String, Vec<u8>)> = vec![
            (crate::ref_key(name), format!("{id}\n").into_bytes()),
            (crate::signature_key(&id), format!("{sig}\n").into_bytes()),
            (
                crate::manifest_key(&id),
                zstd::encode_all(&json[..], 1).unwrap(),
            ),
        ];
        for c in &s.contents {
            objects.push((
                crate::blob_key(&ObjectId::of_bytes(c)),
                zstd::bulk::compress(c, 1).unwrap(),
            ));
        }
        let (how, at, byte) = s.damage;
        match s.damaged {
            1..=4 => {
                let i = match s.damaged {
                    1 => 0,
                    2 => 1,
                    3 => 2,
                    _ => 3 + at % s.contents.len(),
                };
                objects[i].1 = mutate(&objects[i].1, how, at, byte);
            }
            5 => {
                objects.remove(3 + at % s.contents.len());
            }
            6 => {
                objects.remove(2);
            }
            _ => {}
        }
        for (k, v) in &objects {
            put(&remote_dir, k, v);
        }

        let (got, errors) = remotes.pull_ref(&store, name, &crate::NoProgress);
        match got {
            Some((pulled, _)) => {
                // Only a layer signed by the trusted key, complete and intact, gets in.
                prop_assert!(errors.is_empty(), "{errors:?}");
                prop_assert_eq!(s.signer, 0);
                prop_assert_eq!(store.get_ref(name).unwrap(), Some(pulled));
                let local = store.get_manifest(&pulled).unwrap();
                for e in &local.entries {
                    if let EntryKind::File { blob, .. } = &e.kind {
                        prop_assert!(store.read_blob(blob).is_ok(), "{} is not intact", e.path);
                    }
                }
            }
            None => {
                prop_assert!(store.get_ref(name).unwrap().is_none());
                prop_assert!(!errors.is_empty(), "nothing pulled and no reason given");
                for e in &errors {
                    let msg = e.to_string();
                    prop_assert!(
                        matches!(
                            e,
                            RemoteError::Corrupt { .. }
                                | RemoteError::Untrusted { .. }
                                | RemoteError::Dangling { .. }
                        ),
                        "unexpected error: {msg}"
                    );
                    prop_assert!(
                        msg.contains(&spec.display),
                        "does not name the remote: {msg}"
                    );
                }
            }
        }
        let _ = std::fs::remove_dir_all(store.root());
        Ok(())
    });
}
