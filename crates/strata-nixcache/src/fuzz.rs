//! Property tests of the Nix binary cache formats: narinfo text, store paths, Nix base-32, keys
//! and signatures, and NAR serialization of arbitrary file trees (checked against
//! `nix-store --dump`). Arbitrary and mutated inputs must never panic and must fail with an
//! error that says what is wrong; what is written must read back the same.
//!
//! Cases per property: `PROPTEST_CASES` (default 2000).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use strata_proptest::{check, check_scaled, fast_tempdir, mutate};

use crate::{
    Error, NarInfo, PublicKey, SecretKey, StorePath, dump_nar, nix_base32, nix_base32_decode,
};

// ---------------------------------------------------------------- store paths and narinfo

fn base_name() -> impl Strategy<Value = String> {
    (
        "[0-9a-df-np-sv-z]{32}",
        "[a-zA-Z0-9+_?=-][a-zA-Z0-9+._?=-]{0,20}",
    )
        .prop_map(|(h, n)| format!("{h}-{n}"))
}

fn store_dir() -> impl Strategy<Value = String> {
    prop_oneof![3 => Just("/nix/store".to_string()), 1 => "(/[a-z]{1,6}){1,3}"]
}

#[test]
fn store_paths_parse_or_say_why() {
    check(
        prop_oneof![
            2 => "\\PC{0,60}",
            2 => (store_dir(), base_name(), "(/[a-z]{0,4})?").prop_map(|(d, b, t)| format!("{d}/{b}{t}")),
            1 => ("/[a-z/]{0,10}", "[0-9a-z]{30,34}", "(-\\PC{0,6})?").prop_map(|(d, h, n)| format!("{d}/{h}{n}")),
        ],
        |path| {
            match StorePath::parse(&path) {
                Ok(p) => {
                    prop_assert_eq!(p.absolute(), path.trim_end_matches('/'));
                    prop_assert_eq!(p.hash_part().len(), 32);
                    prop_assert_eq!(StorePath::parse(&p.absolute()).unwrap(), p);
                }
                Err(e) => {
                    prop_assert!(matches!(e, Error::NotStorePath { .. }), "{e}");
                    prop_assert!(e.to_string().contains("is not a Nix store path"), "{e}");
                }
            }
            Ok(())
        },
    );
}

fn narinfo() -> impl Strategy<Value = NarInfo> {
    (
        store_dir(),
        base_name(),
        "nar/[0-9a-z]{52}\\.nar(\\.zst)?",
        prop_oneof![Just("zstd"), Just("none"), Just("xz"), Just("bzip2")],
        proptest::option::of("sha256:[0-9a-z]{52}"),
        proptest::option::of(any::<u64>()),
        "sha256:[0-9a-z]{52}",
        any::<u64>(),
        vec(base_name(), 0..4),
        proptest::option::of(base_name().prop_map(|b| format!("{b}.drv"))),
        vec("[a-z0-9.-]{1,10}:[A-Za-z0-9+/]{86}==", 0..3),
    )
        .prop_map(
            |(
                dir,
                base,
                url,
                comp,
                file_hash,
                file_size,
                nar_hash,
                nar_size,
                mut refs,
                deriver,
                sigs,
            )| {
                refs.sort();
                refs.dedup();
                NarInfo {
                    store_path: StorePath::from_base_name(&dir, &base).unwrap(),
                    url,
                    compression: comp.to_string(),
                    file_hash,
                    file_size,
                    nar_hash,
                    nar_size,
                    references: refs,
                    deriver,
                    sigs,
                }
            },
        )
}

#[test]
fn narinfo_round_trips() {
    check(narinfo(), |info| {
        let text = info.to_text();
        prop_assert_eq!(&NarInfo::parse(&text).unwrap(), &info);
        // Nix writes `\n`; a file that went through Windows has `\r\n`.
        prop_assert_eq!(&NarInfo::parse(&text.replace('\n', "\r\n")).unwrap(), &info);
        Ok(())
    });
}

#[test]
fn narinfo_text_that_is_not_parses_or_says_why() {
    let signer = SecretKey::parse(
        &format!("t-1:{}", {
            use base64::Engine as _;
            let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
            base64::engine::general_purpose::STANDARD.encode(key.to_keypair_bytes())
        }),
        "test key",
    )
    .unwrap();
    let public = [signer.public()];
    check(
        prop_oneof![
            1 => "\\PC{0,200}".prop_map(String::into_bytes),
            1 => vec(("(StorePath|URL|Compression|FileHash|FileSize|NarHash|NarSize|References|Deriver|Sig|CA)", "(: ?|)", "\\PC{0,30}"), 0..10)
                .prop_map(|lines| lines.into_iter().map(|(f, s, v)| format!("{f}{s}{v}\n")).collect::<String>().into_bytes()),
            3 => (narinfo(), vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4)).prop_map(move |(mut info, mutations)| {
                info.sign(&signer);
                let mut text = info.to_text().into_bytes();
                for (how, at, byte) in mutations {
                    text = mutate(&text, how, at, byte);
                }
                text
            }),
        ],
        |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            match NarInfo::parse(&text) {
                Ok(info) => {
                    // What parses writes out and parses again the same.
                    prop_assert_eq!(&NarInfo::parse(&info.to_text()).unwrap(), &info);
                    let _ = info.is_signed_by_any(&public);
                }
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(
                        matches!(e, Error::BadNarInfo { .. } | Error::NotStorePath { .. }),
                        "{msg}"
                    );
                    prop_assert!(
                        msg.len() < 600,
                        "an error quotes too much: {} bytes",
                        msg.len()
                    );
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- base-32 and keys

#[test]
fn nix_base32_round_trips_and_rejects() {
    check(vec(any::<u8>(), 1..70), |bytes| {
        let text = nix_base32(&bytes);
        prop_assert_eq!(nix_base32_decode(&text, bytes.len()), Some(bytes));
        Ok(())
    });
    check(
        (
            prop_oneof![2 => "[0-9a-z]{0,60}", 1 => "\\PC{0,60}"],
            prop_oneof![3 => 0usize..40, 1 => any::<usize>(), 1 => Just(usize::MAX)],
        ),
        |(text, size)| {
            if let Some(bytes) = nix_base32_decode(&text, size) {
                prop_assert_eq!(bytes.len(), size);
                prop_assert_eq!(nix_base32(&bytes), text);
            }
            Ok(())
        },
    );
}

#[test]
fn keys_and_signatures_never_panic() {
    check(
        (
            prop_oneof![
                2 => "\\PC{0,100}",
                2 => ("[a-z0-9.-]{0,10}", vec(any::<u8>(), 0..70)).prop_map(|(n, b)| {
                    use base64::Engine as _;
                    format!("{n}:{}", base64::engine::general_purpose::STANDARD.encode(b))
                }),
            ],
            "\\PC{0,100}",
        ),
        |(text, sig)| {
            for res in [
                SecretKey::parse(&text, "the key file").map(|k| k.public()),
                PublicKey::parse(&text, "the key file"),
            ] {
                match res {
                    Ok(k) => {
                        prop_assert_eq!(
                            PublicKey::parse(&k.to_nix_string(), "again").unwrap(),
                            k.clone()
                        );
                        prop_assert!(!k.verify("1;/nix/store/x;sha256:y;1;", &sig));
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        prop_assert!(matches!(e, Error::BadKey { .. }), "{msg}");
                        prop_assert!(msg.contains("the key file"), "{msg}");
                    }
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- NAR

/// A file tree: what Nix stores can hold (any byte string as a name but `/` and NUL, any
/// symlink target, executable or plain files of any size).
#[derive(Debug, Clone)]
enum Node {
    File { content: Vec<u8>, executable: bool },
    Symlink(Vec<u8>),
    Dir(std::collections::BTreeMap<Vec<u8>, Node>),
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => "[a-zA-Z0-9._-]{1,10}".prop_map(String::into_bytes),
        1 => "\\PC{1,6}".prop_map(String::into_bytes),
        1 => vec(1u8..=255, 1..8),
        1 => Just(vec![b'n'; 255]),
        1 => Just(b"line\nbreak".to_vec()),
    ]
    .prop_map(|mut n| {
        n.retain(|&c| c != b'/');
        if n.is_empty() || n == b"." || n == b".." {
            n = b"x".to_vec();
        }
        n
    })
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        4 => (vec(any::<u8>(), 0..40), any::<bool>())
            .prop_map(|(content, executable)| Node::File { content, executable }),
        1 => (0usize..3000, any::<u8>())
            .prop_map(|(n, b)| Node::File { content: vec![b; n], executable: false }),
        2 => prop_oneof![
            4 => "[a-z/.]{1,20}".prop_map(String::into_bytes),
            1 => vec(1u8..=255, 1..20),
            1 => Just(vec![b'a'; 4000]),
        ]
        .prop_map(Node::Symlink),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        btree_map(name(), inner, 0..5).prop_map(Node::Dir)
    })
}

fn build(path: &Path, node: &Node) {
    match node {
        Node::File {
            content,
            executable,
        } => {
            std::fs::write(path, content).unwrap();
            if *executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        }
        Node::Symlink(target) => {
            std::os::unix::fs::symlink(OsStr::from_bytes(target), path).unwrap()
        }
        Node::Dir(entries) => {
            std::fs::create_dir(path).unwrap();
            for (name, child) in entries {
                build(&path.join(OsStr::from_bytes(name)), child);
            }
        }
    }
}

fn has_non_utf8(node: &Node) -> bool {
    match node {
        Node::File { .. } => false,
        Node::Symlink(target) => std::str::from_utf8(target).is_err(),
        Node::Dir(entries) => entries
            .iter()
            .any(|(name, child)| std::str::from_utf8(name).is_err() || has_non_utf8(child)),
    }
}

/// Every tree serializes without a panic, to the bytes `nix-store --dump` writes (checked on a
/// tenth of the trees: a process each), or fails with an error naming the tree.
#[test]
fn nar_of_arbitrary_trees_is_nix_store_dump() {
    let dir = fast_tempdir();
    let case = std::cell::Cell::new(0u32);
    check_scaled(4, node(), |tree| {
        case.set(case.get() + 1);
        let root = dir.path().join(format!("t{}", case.get()));
        build(&root, &tree);
        let mut ours = Vec::new();
        match dump_nar(&root, &mut ours) {
            Ok(digest) => {
                prop_assert_eq!(digest.size, ours.len() as u64);
                if case.get().is_multiple_of(10) {
                    let out = std::process::Command::new("nix-store")
                        .arg("--dump")
                        .arg(&root)
                        .output()
                        .expect(
                            "nix-store must be installed for these tests (apt-get install nix-bin)",
                        );
                    prop_assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    prop_assert!(ours == out.stdout, "NAR differs from nix-store --dump");
                }
            }
            Err(e) => {
                // nix-nar takes only UTF-8 names and targets (Nix takes any bytes): the one
                // known limit, reported as such.
                let msg = e.to_string();
                prop_assert!(matches!(e, Error::Nar { .. }), "{msg}");
                prop_assert!(msg.contains(&root.display().to_string()), "{msg}");
                prop_assert!(has_non_utf8(&tree), "{msg}");
                prop_assert!(msg.contains("invalid UTF-8"), "{msg}");
            }
        }
        if std::fs::symlink_metadata(&root).unwrap().is_dir() {
            std::fs::remove_dir_all(&root).unwrap();
        } else {
            std::fs::remove_file(&root).unwrap();
        }
        Ok(())
    });
}
