//! `strata nix cache`: store paths built by a real nix-build, pushed by strata into a binary
//! cache, substituted by real Nix into a second store (file:// and from `strata serve`), with signatures
//! checked by Nix itself.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "common/serve.rs"]
mod serve;
#[path = "common/tools.rs"]
mod tools;
use serve::{PUSH_TOKEN, Serve};

fn strata(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .expect("run strata")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed\n--- stdout\n{}\n--- stderr\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Fails (not skips) without Nix: these tests are the proof that Nix accepts the cache.
#[track_caller]
fn nix(program: &str) -> Command {
    Command::new(tools::require_tool(
        program,
        "apt-get install nix-bin (.ci/run does this)",
    ))
}

/// Builds, with a real nix-build, a derivation with two outputs: `out` (a directory with an
/// executable, a symlink and a file) refers to `dev` and to itself; `dev` refers to a second
/// derivation's output. Returns (out, dev, lib) store paths. `tag` keeps tests' paths apart.
fn build_package(dir: &Path, tag: &str) -> (String, String, String) {
    let expr = format!(
        r#"
let
  lib = derivation {{
    name = "strata-nixcache-{tag}-lib"; system = builtins.currentSystem; builder = "/bin/sh";
    args = [ "-c" "echo library {tag} > $out" ];
  }};
  pkg = derivation {{
    name = "strata-nixcache-{tag}"; system = builtins.currentSystem; builder = "/bin/sh";
    outputs = [ "out" "dev" ];
    args = [ "-c" ''
      echo ${{lib}} > $dev
      /bin/mkdir -p $out/bin $out/share/empty
      printf '#!/bin/sh\ncat %s\n# installed in %s\n' $dev $out > $out/bin/app
      /bin/chmod +x $out/bin/app
      /bin/ln -s bin/app $out/link
      printf 'odd length' > $out/share/data
    '' ];
  }};
in {{ out = pkg.out; dev = pkg.dev; inherit lib; }}
"#
    );
    let file = dir.join("pkg.nix");
    std::fs::write(&file, expr).unwrap();
    let mut paths = Vec::new();
    for attr in ["out", "dev", "lib"] {
        let out = nix("nix-build")
            .args([
                "--option",
                "build-users-group",
                "",
                "--option",
                "sandbox",
                "false",
            ])
            .arg("--no-out-link")
            .arg(&file)
            .args(["-A", attr])
            .output()
            .unwrap();
        paths.push(ok(out).trim().to_string());
    }
    let refs = ok(nix("nix-store")
        .args(["-q", "--references", &paths[0]])
        .output()
        .unwrap());
    assert!(refs.contains(&paths[1]), "out must refer to dev: {refs}");
    (paths[0].clone(), paths[1].clone(), paths[2].clone())
}

struct Cache {
    dir: PathBuf,
    secret: PathBuf,
    public: String,
}

fn new_cache(tmp: &Path, name: &str) -> Cache {
    let keys = tmp.join(format!("keys-{name}"));
    ok(strata(&[
        "nix",
        "cache",
        "key",
        "generate",
        "--name",
        name,
        "--out",
        keys.to_str().unwrap(),
    ]));
    let public = std::fs::read_to_string(keys.join(format!("{name}.public"))).unwrap();
    Cache {
        dir: tmp.join(format!("cache-{name}")),
        secret: keys.join(format!("{name}.secret")),
        public: public.trim().to_string(),
    }
}

fn push(cache: &Cache, extra: &[&str], paths: &[&str]) -> String {
    let mut args = vec![
        "nix",
        "cache",
        "push",
        "--to",
        cache.dir.to_str().unwrap(),
        "--key",
        cache.secret.to_str().unwrap(),
    ];
    args.extend(extra);
    args.extend(paths);
    ok(strata(&args))
}

/// `nix-store --realise` into a chroot store at `store`, substituting only from `url`. Nix's
/// narinfo lookup cache lives beside the store, so runs and tests never see each other's.
fn realise(store: &Path, url: &str, trusted: &str, path: &str) -> Output {
    nix("nix-store")
        .env("XDG_CACHE_HOME", store.with_extension("xdg-cache"))
        .arg("--store")
        .arg(store)
        .args(["--realise", path])
        .args(["--option", "substituters", url])
        .args(["--option", "trusted-public-keys", trusted])
        .args(["--option", "require-sigs", "true"])
        .output()
        .unwrap()
}

/// Every file, directory and symlink under `a` equals the one under `b`: bytes, executable bit,
/// symlink target.
fn assert_same_tree(a: &Path, b: &Path) {
    let la = std::fs::symlink_metadata(a).unwrap();
    let lb =
        std::fs::symlink_metadata(b).unwrap_or_else(|e| panic!("{} missing: {e}", b.display()));
    if la.file_type().is_symlink() {
        assert_eq!(
            std::fs::read_link(a).unwrap(),
            std::fs::read_link(b).unwrap()
        );
        return;
    }
    assert_eq!(la.is_dir(), lb.is_dir(), "{}", b.display());
    if la.is_dir() {
        let names = |p: &Path| {
            let mut v: Vec<_> = std::fs::read_dir(p)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(a), names(b), "{}", b.display());
        for n in names(a) {
            assert_same_tree(&a.join(&n), &b.join(&n));
        }
    } else {
        assert_eq!(
            std::fs::read(a).unwrap(),
            std::fs::read(b).unwrap(),
            "{}",
            b.display()
        );
        assert_eq!(
            la.permissions().mode() & 0o111,
            lb.permissions().mode() & 0o111,
            "executable bit of {}",
            b.display()
        );
    }
}

/// The physical location of a store path inside a chroot store.
fn in_store(store: &Path, path: &str) -> PathBuf {
    store.join(path.trim_start_matches('/'))
}

#[test]
fn pushed_closure_substitutes_into_a_second_store_from_a_file_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, dev, lib) = build_package(tmp.path(), "file");
    let cache = new_cache(tmp.path(), "strata-file-1");
    let said = push(&cache, &["--closure"], &[&out]);
    assert!(said.contains("3 paths pushed, 0 already"), "{said}");

    // The objects Nix reads, and NAR bytes/hash equal to Nix's own.
    let info = std::fs::read_to_string(cache.dir.join("nix-cache-info")).unwrap();
    assert!(info.contains("StoreDir: /nix/store\n") && info.contains("WantMassQuery: 1\n"));
    let hash = &Path::new(&out).file_name().unwrap().to_str().unwrap()[..32];
    let narinfo = std::fs::read_to_string(cache.dir.join(format!("{hash}.narinfo"))).unwrap();
    let field = |name: &str| {
        narinfo
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in\n{narinfo}"))
            .to_string()
    };
    let nix_hash = ok(nix("nix-store")
        .args(["-q", "--hash", &out])
        .output()
        .unwrap());
    assert_eq!(field("NarHash"), nix_hash.trim());
    assert_eq!(field("Compression"), "zstd");
    let base = |p: &str| {
        Path::new(p)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    let mut expected_refs = [base(&dev), base(&out)];
    expected_refs.sort();
    assert_eq!(field("References"), expected_refs.join(" "));
    assert!(field("Sig").starts_with("strata-file-1:"));
    let nar_file = std::fs::read(cache.dir.join(field("URL"))).unwrap();
    let nar = zstd::decode_all(&nar_file[..]).unwrap();
    let dump = nix("nix-store").args(["--dump", &out]).output().unwrap();
    assert!(
        nar == dump.stdout,
        "NAR in the cache differs from nix-store --dump {out}"
    );
    assert_eq!(field("NarSize"), nar.len().to_string());

    // Real Nix substitutes the whole closure into an empty store.
    let store2 = tmp.path().join("store2");
    let url = format!("file://{}", cache.dir.display());
    let got = ok(realise(&store2, &url, &cache.public, &out));
    assert_eq!(got.trim(), out);
    for p in [&out, &dev, &lib] {
        assert_same_tree(Path::new(p), &in_store(&store2, p));
    }
    let refs = ok(nix("nix-store")
        .arg("--store")
        .arg(&store2)
        .args(["-q", "--references", &out])
        .output()
        .unwrap());
    let mut refs: Vec<&str> = refs.lines().collect();
    refs.sort();
    let mut expected = vec![dev.as_str(), out.as_str()];
    expected.sort();
    assert_eq!(refs, expected);
    let app = Command::new(in_store(&store2, &out).join("bin/app"))
        .output()
        .unwrap();
    // The app reads $dev by its /nix/store path, i.e. from the first store: same bytes.
    assert_eq!(text(&app.stdout).trim(), lib);

    // Pushing again writes nothing; without --closure only the named path is considered.
    let again = push(&cache, &["--closure"], &[&out]);
    assert!(again.contains("0 paths pushed, 3 already"), "{again}");
    let one = push(&cache, &[], &[&dev]);
    assert!(one.contains("0 paths pushed, 1 already"), "{one}");
}

#[test]
fn nix_refuses_a_narinfo_signed_by_an_untrusted_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, _dev, _lib) = build_package(tmp.path(), "sig");
    let cache = new_cache(tmp.path(), "strata-sig-1");
    let stranger = new_cache(tmp.path(), "strata-other-1");
    push(&cache, &["--closure"], &[&out]);
    let url = format!("file://{}", cache.dir.display());
    let store2 = tmp.path().join("store2");

    let refused = realise(&store2, &url, &stranger.public, &out);
    assert!(
        !refused.status.success(),
        "Nix accepted a path signed by an untrusted key:\n{}",
        text(&refused.stderr)
    );
    assert!(
        text(&refused.stderr).contains("is not signed by any of the keys"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!in_store(&store2, &out).exists());

    // Same store, same cache: trusting the right key is all it takes.
    ok(realise(&store2, &url, &cache.public, &out));
    assert_same_tree(Path::new(&out), &in_store(&store2, &out));
}

#[test]
fn pushed_closure_substitutes_from_strata_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, dev, lib) = build_package(tmp.path(), "http");
    let cache = new_cache(tmp.path(), "strata-http-1");
    let served = tmp.path().join("served");
    let server = Serve::start(&served);
    let push_to_serve = |token: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
        c.args(["nix", "cache", "push", "--closure", "--compression", "none"])
            .args(["--to", &server.url, "--key"])
            .arg(&cache.secret)
            .arg(&out)
            .env_remove("STRATA_REMOTE_TOKEN");
        if let Some(t) = token {
            c.env("STRATA_REMOTE_TOKEN", t);
        }
        c.output().unwrap()
    };
    // strata serve takes pushes only with its token.
    let refused = push_to_serve(None);
    assert!(
        !refused.status.success(),
        "a push without the token was taken"
    );
    assert!(
        text(&refused.stderr).contains("401"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!served.join("nix/nix-cache-info").exists());
    ok(push_to_serve(Some(PUSH_TOKEN)));
    assert!(served.join("nix/nix-cache-info").is_file());
    let url = format!("{}/nix", server.url);
    let store2 = tmp.path().join("store2");
    let got = ok(realise(&store2, &url, &cache.public, &out));
    assert_eq!(got.trim(), out);
    for p in [&out, &dev, &lib] {
        assert_same_tree(Path::new(p), &in_store(&store2, p));
    }

    // `nix copy --from` (checks signatures too) into a third store.
    let store3 = tmp.path().join("store3");
    ok(nix("nix")
        .env("XDG_CACHE_HOME", tmp.path().join("xdg3"))
        .args(["--extra-experimental-features", "nix-command", "copy"])
        .args(["--from", &url, "--to"])
        .arg(&store3)
        .args(["--option", "trusted-public-keys", &cache.public])
        .arg(&out)
        .output()
        .unwrap());
    for p in [&out, &dev, &lib] {
        assert_same_tree(Path::new(p), &in_store(&store3, p));
    }
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = new_cache(tmp.path(), "strata-bad-1");
    let public_file = tmp.path().join("keys-strata-bad-1/strata-bad-1.public");
    let dest = tmp.path().join("never");
    let (out, _, _) = build_package(tmp.path(), "bad");
    let push_to_dest = |key: &Path, path: &str| {
        strata(&[
            "nix",
            "cache",
            "push",
            "--to",
            dest.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            path,
        ])
    };

    let wrong_key = push_to_dest(&public_file, &out);
    assert!(!wrong_key.status.success());
    let err = text(&wrong_key.stderr);
    assert!(
        err.contains("strata-bad-1.public") && err.contains("64 bytes"),
        "{err}"
    );

    let not_store = push_to_dest(&cache.secret, tmp.path().to_str().unwrap());
    assert!(!not_store.status.success());
    assert!(
        text(&not_store.stderr).contains("not a Nix store path"),
        "{}",
        text(&not_store.stderr)
    );

    let inside = format!("{out}/bin/app");
    let sub = push_to_dest(&cache.secret, &inside);
    assert!(!sub.status.success());
    assert!(
        text(&sub.stderr).contains("inside a store path"),
        "{}",
        text(&sub.stderr)
    );
    assert!(!dest.exists(), "a refused push created {}", dest.display());

    // Generating over an existing key is refused and leaves it intact.
    let before = std::fs::read(&cache.secret).unwrap();
    let again = strata(&[
        "nix",
        "cache",
        "key",
        "generate",
        "--name",
        "strata-bad-1",
        "--out",
        tmp.path().join("keys-strata-bad-1").to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(std::fs::read(&cache.secret).unwrap(), before);
}
