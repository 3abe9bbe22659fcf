//! A hostile or broken remote (issue 19, item 4): a server on 127.0.0.1 that speaks `strata
//! serve`'s protocol and answers wrongly on purpose. Machine A builds and pushes honest layers to
//! a directory; the server serves that directory to machine B with one misbehaviour per test.
//! Each time B's build (run under a 1 GiB address-space limit with `prlimit`) succeeds with
//! cargo's own result, warns naming the remote, and nothing wrong enters B's store. The slow
//! cases are ended by strata's timeouts, set low here through the environment; the test asserts
//! which timeout fired (its warning), never how long anything took.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::machine::Machine;
use common::*;

const EXPECTED: &str = "hello v1.2.3 #7 | 42 | core readme v1 | build-script";

/// B's address-space limit: far below what an unbounded read of the bodies served here takes.
const MEM_LIMIT: u64 = 1 << 30;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Blobs: the full Content-Length is announced, half the body is sent, then the connection
    /// closes.
    Truncate,
    /// Blobs: half the body, no Content-Length (the end of the connection ends the body).
    TruncateUnframed,
    /// Blobs: another blob's bytes (a valid zstd frame of other content).
    WrongBytes,
    /// Every request: 500.
    Error500,
    /// Blobs: the request is read, and nothing is ever answered.
    Hang,
    /// Blobs: headers, then one byte of the body a second.
    Trickle,
    /// Blobs: a zstd frame of RLE blocks that inflates to gigabytes.
    BlobBomb,
    /// Manifests: the same kind of bomb, under the real (signed) manifest's name.
    ManifestBomb,
    /// Blobs: a body that never ends, at full speed, without a Content-Length.
    Endless,
    /// Serve the objects in `overrides` first (e.g. a signed manifest of a million entries).
    Honest,
}

/// The hostile server: one thread per connection, `Connection: close` on every answer.
struct Hostile {
    url: String,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    port: u16,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

struct Shared {
    root: PathBuf,
    mode: Mode,
    overrides: HashMap<String, Vec<u8>>,
    stop: Arc<AtomicBool>,
    /// Some other blob's bytes, for `WrongBytes`.
    decoy: Vec<u8>,
    bomb: Vec<u8>,
}

impl Hostile {
    fn start(root: &Path, mode: Mode, overrides: HashMap<String, Vec<u8>>) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let mut blobs: Vec<PathBuf> = walkdir::WalkDir::new(root.join("blobs"))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .collect();
        // The smallest: sent for a blob it is not, it is never refused by size before its hash is
        // checked (what the wrong-bytes test is about).
        blobs.sort_by_key(|p| {
            (
                std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                p.clone(),
            )
        });
        let decoy = blobs
            .first()
            .map(|p| std::fs::read(p).unwrap())
            .unwrap_or_default();
        let shared = Arc::new(Shared {
            root: root.to_path_buf(),
            mode,
            overrides,
            stop: Arc::clone(&stop),
            decoy,
            // 128 KiB of RLE blocks: 4 GiB once inflated. A blob's size limit lets it in (it is
            // below compress-bound + 128 KiB for any blob), so only the inflation bound stops it.
            bomb: rle_bomb(32 * 1024 - 16),
        });
        let (st, rq) = (Arc::clone(&stop), Arc::clone(&requests));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                rq.fetch_add(1, Ordering::SeqCst);
                let sh = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = serve_one(conn, &sh);
                });
            }
        });
        Hostile {
            url: format!("http://127.0.0.1:{port}"),
            stop,
            requests,
            port,
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A zstd frame of `blocks` RLE blocks of 128 KiB zeros each, with no content size.
fn rle_bomb(blocks: usize) -> Vec<u8> {
    let mut f = vec![0x28, 0xB5, 0x2F, 0xFD]; // magic, little-endian
    f.push(0x00); // frame header: no content size, no checksum, no dictionary
    f.push(7 << 3); // window: 2^(10+7) = 128 KiB
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = (128 * 1024u32) << 3 | 1 << 1 | last; // RLE block of 128 KiB
        f.extend_from_slice(&header.to_le_bytes()[..3]);
        f.push(0);
    }
    f
}

fn serve_one(mut conn: TcpStream, sh: &Shared) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let key = parts
        .next()
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_string();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;

    if sh.mode == Mode::Error500 {
        return conn.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\noops\n",
        );
    }
    if method == "PUT" {
        return conn
            .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    let content = match sh.overrides.get(&key) {
        Some(c) => Some(c.clone()),
        None => std::fs::read(sh.root.join(&key)).ok(),
    };
    let Some(content) = content else {
        return conn.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let ok = |len: usize| {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    if method == "HEAD" {
        return conn.write_all(ok(content.len()).as_bytes());
    }
    let blob = key.starts_with("blobs/");
    let manifest = key.starts_with("manifests/") && key.ends_with(".json.zst");
    match sh.mode {
        Mode::Truncate if blob => {
            conn.write_all(ok(content.len()).as_bytes())?;
            conn.write_all(&content[..content.len() / 2])
        }
        Mode::TruncateUnframed if blob => {
            conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            conn.write_all(&content[..content.len() / 2])
        }
        Mode::WrongBytes if blob => {
            let other = if content == sh.decoy {
                zstd::encode_all(&b"other bytes"[..], 1)?
            } else {
                sh.decoy.clone()
            };
            conn.write_all(ok(other.len()).as_bytes())?;
            conn.write_all(&other)
        }
        Mode::Hang if blob => {
            while !sh.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        }
        Mode::Trickle if blob => {
            conn.write_all(ok(content.len()).as_bytes())?;
            for b in &content {
                if sh.stop.load(Ordering::SeqCst) {
                    break;
                }
                conn.write_all(std::slice::from_ref(b))?;
                std::thread::sleep(Duration::from_secs(1));
            }
            Ok(())
        }
        Mode::BlobBomb if blob => {
            conn.write_all(ok(sh.bomb.len()).as_bytes())?;
            conn.write_all(&sh.bomb)
        }
        Mode::ManifestBomb if manifest => {
            // 16 MiB of RLE blocks: 512 GiB once inflated.
            let bomb = rle_bomb(4 << 20);
            conn.write_all(ok(bomb.len()).as_bytes())?;
            conn.write_all(&bomb)
        }
        Mode::Endless if blob => {
            conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            let chunk = vec![0x5a; 1 << 16];
            while !sh.stop.load(Ordering::SeqCst) {
                conn.write_all(&chunk)?;
            }
            Ok(())
        }
        _ => {
            conn.write_all(ok(content.len()).as_bytes())?;
            conn.write_all(&content)
        }
    }
}

/// A's honest layers in a directory, and the key that signed them.
struct Setup {
    w: World,
    shared: PathBuf,
    public: String,
    signing_key: PathBuf,
}

fn setup() -> Setup {
    let w = World::new();
    let shared = w.path("shared");
    let mut a = Machine::new(&w, "a", &format!("file://{}", shared.display()), &[]);
    let public = a.keygen("team-a");
    let ca = w.checkout("a");
    let r = a.run(&ca, &["build"]).ok();
    assert!(r.stderr.contains("Pushed"), "{}", r.stderr);
    let signing_key = a.dir.join("signing.key");
    Setup {
        w,
        shared,
        public,
        signing_key,
    }
}

/// `c` under `prlimit --as=MEM_LIMIT` (util-linux), with the same environment and directory.
fn limited(c: &Command) -> Command {
    let mut l = Command::new("prlimit");
    l.arg(format!("--as={MEM_LIMIT}"))
        .arg("--")
        .arg(c.get_program())
        .args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => l.env(k, v),
            None => l.env_remove(k),
        };
    }
    if let Some(d) = c.get_current_dir() {
        l.current_dir(d);
    }
    l
}

struct Outcome {
    stderr: String,
    compiled: Vec<String>,
}

/// B builds against the hostile server (low timeouts, 1 GiB address space, no save: its store
/// then holds only what came from the remote). Checks what every case must satisfy.
fn b_builds_anyway(s: &Setup, server: &Hostile, case: &str) -> Outcome {
    // A new machine and checkout for every case of a test.
    static CASES: AtomicUsize = AtomicUsize::new(0);
    let name = format!("b{}", CASES.fetch_add(1, Ordering::SeqCst));
    let mut b = Machine::new(&s.w, &name, &server.url, &[]);
    b.set("STRATA_TRUSTED_KEYS", &s.public);
    // A byte a second never trips the no-progress bound (2.5 s), only the total one (6 s).
    b.set("STRATA_REMOTE_CONNECT_TIMEOUT", "2s");
    b.set("STRATA_REMOTE_IO_TIMEOUT", "2500ms");
    b.set("STRATA_REMOTE_TIMEOUT", "6s");
    let cb = s.w.checkout(&name);
    let start = Instant::now();
    let mut child = limited(&b.command(&cb, &["build", "--no-save"]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run strata under prlimit");
    // Read stderr as it comes, to note when strata gave up on the remote (its first warning).
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut stderr = String::new();
    let mut gave_up = None;
    while let Some(Ok(line)) = lines.next() {
        if gave_up.is_none() && line.starts_with("warning: strata") {
            gave_up = Some(start.elapsed());
        }
        stderr.push_str(&line);
        stderr.push('\n');
    }
    let status = child.wait().expect("wait for strata");
    let elapsed = start.elapsed();
    assert!(status.success(), "{case}: build failed\n{stderr}");
    let run = Run {
        code: 0,
        stdout: String::new(),
        stderr: stderr.clone(),
    };
    let compiled = run.compiled();
    // cargo's own result: the binary works and cargo compiled the workspace itself.
    assert_eq!(run_fx(&cb, "debug"), EXPECTED, "{case}");
    assert!(compiled.contains(&"fx-app".to_string()), "{case}: {stderr}");
    // Every warning names the hostile remote.
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: strata"))
        .collect();
    assert!(!warnings.is_empty(), "{case}: no warning\n{stderr}");
    for w in &warnings {
        assert!(w.contains(&format!("remote {}", server.url)), "{case}: {w}");
    }
    // Nothing wrong entered the store: no layer at all, and what blobs came verify.
    b.verify_store();
    let refs = b.run(s.w.dir.path(), &["store", "refs"]).ok();
    assert!(refs.stdout.trim().is_empty(), "{case}: {}", refs.stdout);
    let manifests = b.store().join("manifests");
    assert!(
        !manifests.exists() || walk_files(&manifests) == 0,
        "{case}: a manifest entered the store"
    );
    eprintln!(
        "{case}: first warning after {:.2} s, build {:.2} s, {} requests to the hostile remote",
        gave_up.unwrap_or_default().as_secs_f64(),
        elapsed.as_secs_f64(),
        server.requests()
    );
    Outcome { stderr, compiled }
}

fn walk_files(dir: &Path) -> usize {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count()
}

fn warnings(stderr: &str) -> usize {
    stderr.matches("warning: strata").count()
}

#[test]
fn truncated_bodies() {
    let s = setup();
    let server = Hostile::start(&s.shared, Mode::Truncate, HashMap::new());
    let o = b_builds_anyway(&s, &server, "truncated body (Content-Length)");
    // The connection ends before the announced length: the remote failed, asked nothing more.
    assert_eq!(warnings(&o.stderr), 1, "{}", o.stderr);
    assert!(o.stderr.contains("get `blobs/"), "{}", o.stderr);
    drop(server);

    let server = Hostile::start(&s.shared, Mode::TruncateUnframed, HashMap::new());
    let o = b_builds_anyway(&s, &server, "truncated body (unframed)");
    // The body looks complete to HTTP; the frame does not decompress.
    assert!(o.stderr.contains("is corrupt"), "{}", o.stderr);
    assert!(o.stderr.contains("does not decompress"), "{}", o.stderr);
}

#[test]
fn bytes_that_do_not_match_their_name() {
    let s = setup();
    let server = Hostile::start(&s.shared, Mode::WrongBytes, HashMap::new());
    let o = b_builds_anyway(&s, &server, "wrong bytes");
    assert!(o.stderr.contains("is corrupt"), "{}", o.stderr);
    assert!(
        o.stderr.contains("hashes to") || o.stderr.contains("decompresses to"),
        "{}",
        o.stderr
    );
}

#[test]
fn server_errors() {
    let s = setup();
    let server = Hostile::start(&s.shared, Mode::Error500, HashMap::new());
    let o = b_builds_anyway(&s, &server, "500s");
    assert_eq!(warnings(&o.stderr), 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("500 Internal Server Error"),
        "{}",
        o.stderr
    );
    // The first request and its two retries; then the remote is asked nothing more.
    assert_eq!(server.requests(), 3);
}

#[test]
fn a_server_that_hangs_ends_by_the_io_timeout() {
    let s = setup();
    let server = Hostile::start(&s.shared, Mode::Hang, HashMap::new());
    let o = b_builds_anyway(&s, &server, "hang");
    assert_eq!(warnings(&o.stderr), 1, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("timed out: no data for 2.5s (io_timeout, STRATA_REMOTE_IO_TIMEOUT)"),
        "{}",
        o.stderr
    );
}

#[test]
fn a_trickle_ends_by_the_total_timeout() {
    let s = setup();
    let server = Hostile::start(&s.shared, Mode::Trickle, HashMap::new());
    let o = b_builds_anyway(&s, &server, "trickle");
    assert_eq!(warnings(&o.stderr), 1, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("timed out: not done within 6s (timeout, STRATA_REMOTE_TIMEOUT)"),
        "{}",
        o.stderr
    );
}

#[test]
fn zstd_bombs_are_refused_by_size() {
    let s = setup();
    let server = Hostile::start(&s.shared, Mode::BlobBomb, HashMap::new());
    let o = b_builds_anyway(&s, &server, "blob bomb");
    assert!(
        o.stderr.contains("decompresses to more than the"),
        "{}",
        o.stderr
    );
    drop(server);

    let server = Hostile::start(&s.shared, Mode::ManifestBomb, HashMap::new());
    let o = b_builds_anyway(&s, &server, "manifest bomb");
    assert!(
        o.stderr.contains(&format!(
            "decompresses to more than {} bytes (the limit)",
            strata_remote::MAX_MANIFEST_JSON
        )),
        "{}",
        o.stderr
    );
}

#[test]
fn a_body_without_end_is_refused_by_size() {
    let s = setup();
    let server = Hostile::start(&s.shared, Mode::Endless, HashMap::new());
    let o = b_builds_anyway(&s, &server, "endless body");
    assert!(
        o.stderr.contains("the server sends more than the"),
        "{}",
        o.stderr
    );
    assert!(!o.compiled.is_empty());
}

/// Every ref of the shared directory answered with a layer of a million entries, under the
/// same key and signed with A's (trusted) key: the worst case, a trusted pusher gone wrong.
#[test]
fn a_signed_manifest_of_a_million_entries_is_refused() {
    let s = setup();
    let key = strata_remote::config::read_secret_key(&s.signing_key).unwrap();
    let mut overrides = HashMap::new();
    let refs = s.shared.join("refs");
    for e in walkdir::WalkDir::new(&refs) {
        let e = e.unwrap();
        if !e.file_type().is_file() {
            continue;
        }
        let name = e.path().strip_prefix(&refs).unwrap().display().to_string();
        let id = std::fs::read_to_string(e.path())
            .unwrap()
            .trim()
            .to_string();
        let packed = std::fs::read(
            s.shared
                .join(format!("manifests/{}/{id}.json.zst", &id[..2])),
        )
        .unwrap();
        let json = String::from_utf8(zstd::decode_all(&packed[..]).unwrap()).unwrap();
        let start = json.find("\"entries\":[").unwrap() + "\"entries\":[".len();
        let end = json.find("],\"sources\":").unwrap();
        let mut entries = String::with_capacity(80 << 20);
        for i in 0..1_000_000 {
            if i > 0 {
                entries.push(',');
            }
            entries.push_str(&format!(
                "{{\"path\":\"hostile/{i:07}\",\"mtime\":{{\"secs\":1,\"nanos\":0}},\"kind\":{{\"type\":\"dir\"}}}}"
            ));
        }
        let evil = format!("{}{entries}{}", &json[..start], &json[end..]);
        let evil_id = strata_store::ObjectId::of_bytes(evil.as_bytes());
        let h = evil_id.to_hex();
        overrides.insert(format!("refs/{name}"), format!("{h}\n").into_bytes());
        overrides.insert(
            format!("manifests/{}/{h}.sig", &h[..2]),
            format!("{}\n", key.sign(&evil_id)).into_bytes(),
        );
        overrides.insert(
            format!("manifests/{}/{h}.json.zst", &h[..2]),
            zstd::encode_all(evil.as_bytes(), 1).unwrap(),
        );
    }
    assert!(!overrides.is_empty());
    let server = Hostile::start(&s.shared, Mode::Honest, overrides);
    let o = b_builds_anyway(&s, &server, "million-entry manifest");
    assert!(
        o.stderr.contains(&format!(
            "has more than {} entries (the limit)",
            strata_remote::MAX_MANIFEST_ENTRIES
        )),
        "{}",
        o.stderr
    );
}

/// The control: the same server, honest, serves B a layer it restores (so the cases above fail
/// for the misbehaviour, not for the setup).
#[test]
fn the_same_server_honest_serves_the_layers() {
    let s = setup();
    let server = Hostile::start(&s.shared, Mode::Honest, HashMap::new());
    let mut b = Machine::new(&s.w, "b", &server.url, &[]);
    b.set("STRATA_TRUSTED_KEYS", &s.public);
    let cb = s.w.checkout("b");
    let out = limited(&b.command(&cb, &["build", "--no-save"]))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Pulled deps/"), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(run_fx(&cb, "debug"), EXPECTED);
    b.verify_store();
}
