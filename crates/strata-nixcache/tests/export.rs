//! The export contract a remote sink relies on, with a real nix-build and an in-memory sink
//! (what a remote store's `ObjectSink` implementation sees).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::process::Command;

use strata_nixcache::{
    CACHE_INFO_KEY, ExportOptions, NarInfo, NixStore, ObjectSink, SinkError, StorePath, export,
    generate_key_pair,
};

#[derive(Default)]
struct MemSink {
    objects: RefCell<BTreeMap<String, Vec<u8>>>,
    puts: RefCell<Vec<String>>,
}

impl ObjectSink for MemSink {
    fn exists(&self, key: &str) -> Result<bool, SinkError> {
        Ok(self.objects.borrow().contains_key(key))
    }
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), SinkError> {
        self.puts.borrow_mut().push(key.to_string());
        self.objects
            .borrow_mut()
            .insert(key.to_string(), bytes.to_vec());
        Ok(())
    }
}

/// `top` refers to `mid`, which refers to `base`; built by a real nix-build.
fn build_chain(dir: &std::path::Path) -> Vec<StorePath> {
    let expr = r#"
let
  mk = name: script: derivation {
    inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" script ];
  };
  base = mk "strata-nixcache-export-base" "echo base > $out";
  mid = mk "strata-nixcache-export-mid" "echo ${base} > $out";
in { inherit base mid; top = mk "strata-nixcache-export-top" "echo ${mid} > $out"; }
"#;
    std::fs::write(dir.join("chain.nix"), expr).unwrap();
    ["base", "mid", "top"]
        .iter()
        .map(|attr| {
            let out = Command::new("nix-build")
                .args([
                    "--option",
                    "build-users-group",
                    "",
                    "--option",
                    "sandbox",
                    "false",
                ])
                .arg("--no-out-link")
                .arg(dir.join("chain.nix"))
                .args(["-A", attr])
                .output()
                .expect("nix-build must be installed for this test (apt-get install nix-bin)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            StorePath::parse(String::from_utf8(out.stdout).unwrap().trim()).unwrap()
        })
        .collect()
}

#[test]
fn export_writes_references_first_nar_before_narinfo_and_skips_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let chain = build_chain(dir.path());
    let (sk, pk) = generate_key_pair("mem-1").unwrap();
    let sink = MemSink::default();
    let opts = ExportOptions {
        closure: true,
        ..ExportOptions::default()
    };
    let report = export(&NixStore::new(), &chain[2..], &opts, Some(&sk), &sink).unwrap();
    assert_eq!(report.written, chain);

    let puts = sink.puts.borrow().clone();
    assert_eq!(puts.len(), 7, "{puts:?}");
    assert_eq!(puts.last().unwrap(), CACHE_INFO_KEY);
    for (i, p) in chain.iter().enumerate() {
        let key = format!("{}.narinfo", p.hash_part());
        assert_eq!(puts[2 * i + 1], key, "{puts:?}");
        let info =
            NarInfo::parse(std::str::from_utf8(&sink.objects.borrow()[&key]).unwrap()).unwrap();
        assert_eq!(
            puts[2 * i],
            info.url,
            "the NAR goes just before its narinfo"
        );
        assert!(info.is_signed_by_any(std::slice::from_ref(&pk)));
        let recorded = NixStore::new().nar_hash(p).unwrap();
        assert_eq!(info.nar_hash, recorded);
    }

    // Everything is there: nothing is read or written again.
    sink.puts.borrow_mut().clear();
    let again = export(&NixStore::new(), &chain[2..], &opts, Some(&sk), &sink).unwrap();
    assert_eq!(again.skipped.len(), 3);
    assert!(again.written.is_empty());
    assert!(sink.puts.borrow().is_empty());

    // A lost narinfo is written again; its NAR, still there, is not.
    let mid_key = format!("{}.narinfo", chain[1].hash_part());
    sink.objects.borrow_mut().remove(&mid_key);
    let third = export(&NixStore::new(), &chain[2..], &opts, Some(&sk), &sink).unwrap();
    assert_eq!(third.written, vec![chain[1].clone()]);
    assert_eq!(*sink.puts.borrow(), vec![mid_key]);
}

#[test]
fn export_of_an_invalid_path_names_it() {
    let bogus =
        StorePath::parse("/nix/store/00000000000000000000000000000000-strata-absent").unwrap();
    let sink = MemSink::default();
    let err = export(
        &NixStore::new(),
        &[bogus],
        &ExportOptions::default(),
        None,
        &sink,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("00000000000000000000000000000000-strata-absent"),
        "{err}"
    );
    assert!(sink.objects.borrow().is_empty());
}
