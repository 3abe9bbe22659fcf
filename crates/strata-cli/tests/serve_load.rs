//! `strata serve` under load (issue 19, item 6): real HTTP clients (reqwest, one connection pool
//! each) push and pull against a real `strata serve --dir` on 127.0.0.1. Every object is named
//! by the BLAKE3 of its content and re-hashed when read back. Nothing may fail and nothing may be
//! corrupt; requests with a wrong or missing token get 401 and write nothing; hostile keys (`..`,
//! absolute, percent-encoded, hidden) are refused and write nothing. Latency percentiles are
//! printed, never asserted.
//!
//! Short form (CI): 8 clients for 10 s. `STRATA_SERVE_LOAD=CLIENTSxSECONDS` (e.g. `32x60`) runs
//! the long form.

#[path = "common/serve.rs"]
mod serve;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "load-test-push-token";

/// What one client saw.
#[derive(Default)]
struct Tally {
    /// Latencies in microseconds, by operation.
    put: Vec<u64>,
    get: Vec<u64>,
    head: Vec<u64>,
    refused: Vec<u64>,
    /// Requests that failed (transport error or an unexpected status), with what happened.
    failures: Vec<String>,
    /// Objects read back whose bytes do not hash to their name.
    corrupt: Vec<String>,
    /// Keys pushed with a wrong or missing token (must not exist afterwards).
    unauthorized: Vec<String>,
}

fn content(client: usize, seq: u64) -> Vec<u8> {
    let mut h = blake3::Hasher::new();
    h.update(&(client as u64).to_le_bytes());
    h.update(&seq.to_le_bytes());
    let seed = h.finalize();
    // 1 KiB to 256 KiB, as blobs of compiled units mostly are.
    let len = 1024 + (u64::from(seed.as_bytes()[0]) * 1024) as usize;
    let mut buf = vec![0u8; len];
    h.finalize_xof().fill(&mut buf);
    buf
}

fn key_of(data: &[u8]) -> String {
    let hex = blake3::hash(data).to_hex().to_string();
    format!("blobs/{}/{hex}.zst", &hex[..2])
}

/// The BLAKE3 hex a key names.
fn name_in(key: &str) -> &str {
    key.rsplit('/')
        .next()
        .unwrap_or("")
        .trim_end_matches(".zst")
}

async fn client_loop(
    id: usize,
    base: String,
    until: Instant,
    pushed: Arc<Mutex<Vec<String>>>,
) -> Tally {
    let mut t = Tally::default();
    let http = reqwest::Client::builder()
        // A bound so that a stuck server fails the test instead of stalling it.
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let mut seq = 0u64;
    while Instant::now() < until {
        seq += 1;
        // Push one object.
        let data = content(id, seq);
        let key = key_of(&data);
        let start = Instant::now();
        match http
            .put(format!("{base}/{key}"))
            .bearer_auth(TOKEN)
            .body(data)
            .send()
            .await
        {
            Ok(r) if r.status() == 201 => {
                t.put.push(start.elapsed().as_micros() as u64);
                pushed.lock().unwrap().push(key.clone());
            }
            Ok(r) => t.failures.push(format!("PUT {key}: {}", r.status())),
            Err(e) => t.failures.push(format!("PUT {key}: {e}")),
        }
        // Pull an object some client pushed (often another's), and check it.
        let other = {
            let p = pushed.lock().unwrap();
            p.get((seq as usize * 7919 + id * 104_729) % p.len().max(1))
                .cloned()
        };
        if let Some(k) = other {
            let start = Instant::now();
            match http.get(format!("{base}/{k}")).send().await {
                Ok(r) if r.status() == 200 => match r.bytes().await {
                    Ok(b) => {
                        t.get.push(start.elapsed().as_micros() as u64);
                        if blake3::hash(&b).to_hex().as_str() != name_in(&k) {
                            t.corrupt.push(k);
                        }
                    }
                    Err(e) => t.failures.push(format!("GET {k} body: {e}")),
                },
                Ok(r) => t.failures.push(format!("GET {k}: {}", r.status())),
                Err(e) => t.failures.push(format!("GET {k}: {e}")),
            }
        }
        // Ask whether an object exists, as a pusher does before sending it.
        let start = Instant::now();
        match http.head(format!("{base}/{key}")).send().await {
            Ok(r) if r.status() == 200 => t.head.push(start.elapsed().as_micros() as u64),
            Ok(r) => t.failures.push(format!("HEAD {key}: {}", r.status())),
            Err(e) => t.failures.push(format!("HEAD {key}: {e}")),
        }
        // Now and then a push with a wrong token or none: 401, nothing written.
        if seq.is_multiple_of(10) {
            let bad = content(id, seq | 1 << 63);
            let bad_key = key_of(&bad);
            let mut req = http.put(format!("{base}/{bad_key}")).body(bad);
            if seq.is_multiple_of(20) {
                req = req.bearer_auth("wrong-token");
            }
            let start = Instant::now();
            match req.send().await {
                Ok(r) if r.status() == 401 => {
                    t.refused.push(start.elapsed().as_micros() as u64);
                    t.unauthorized.push(bad_key);
                }
                Ok(r) => t
                    .failures
                    .push(format!("unauthorized PUT {bad_key}: {}", r.status())),
                Err(e) => t.failures.push(format!("unauthorized PUT {bad_key}: {e}")),
            }
        }
    }
    t
}

fn percentiles(name: &str, v: &mut [u64]) -> String {
    if v.is_empty() {
        return format!("{name}: none");
    }
    v.sort_unstable();
    let at =
        |p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1] as f64 / 1000.0;
    format!(
        "{name}: {} requests, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        v.len(),
        at(0.50),
        at(0.90),
        at(0.99),
        v[v.len() - 1] as f64 / 1000.0
    )
}

/// One raw request (so that the path reaches the server exactly as written); the status.
fn raw(base: &str, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> u16 {
    let hostport = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(hostport).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status for {method} {path}: {resp:?}"))
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

/// Keys that try to leave the served directory or reach hidden files: refused, nothing written
/// anywhere. The fixture directory sits inside `root`, so a write that escaped would land in
/// `root` or above.
#[test]
fn serve_refuses_hostile_keys_and_bad_tokens() {
    let root = tempfile::tempdir().unwrap();
    let served = root.path().join("a/b/served");
    let (mut child, base) = serve::spawn(
        &served,
        "127.0.0.1:0",
        &[],
        &[("STRATA_SERVE_TOKEN", TOKEN)],
    );
    let hostile = [
        "/../escape",
        "/../../escape",
        "/a/../../escape",
        "/%2e%2e/escape",
        "/%2E%2E/%2E%2E/escape",
        "/a%2F..%2F..%2Fescape",
        "/a/%2e%2e%2f%2e%2e%2fescape",
        "//escape",
        "//tmp/escape",
        "/%2Ftmp%2Fescape",
        "/a//b",
        "/.strata-tmp/escape",
        "/a/.hidden",
        "/%2estrata-tmp/escape",
        "/a%5c..%5c..%5cescape",
        "/a%00b",
        "/./escape",
    ];
    for path in hostile {
        for method in ["PUT", "GET", "HEAD"] {
            let status = raw(&base, method, path, Some(TOKEN), b"evil");
            assert_eq!(status, 400, "{method} {path}");
        }
    }
    // The absolute form of a request target, with `..` in it.
    let abs = format!("{base}/../escape");
    assert_eq!(raw(&base, "PUT", &abs, Some(TOKEN), b"evil"), 400);
    // Wrong or missing token: 401, nothing written, and a later read finds nothing.
    assert_eq!(raw(&base, "PUT", "/refs/x", None, b"1"), 401);
    assert_eq!(raw(&base, "PUT", "/refs/x", Some("wrong"), b"1"), 401);
    assert_eq!(
        raw(&base, "PUT", "/refs/x", Some(&format!("{TOKEN}x")), b"1"),
        401
    );
    assert_eq!(raw(&base, "PUT", "/refs/x", Some(&TOKEN[1..]), b"1"), 401);
    assert_eq!(raw(&base, "GET", "/refs/x", None, b""), 404);
    let _ = child.kill();
    let _ = child.wait();
    let everything = files_under(root.path());
    assert!(everything.is_empty(), "written: {everything:?}");
}

#[test]
fn serve_under_load_loses_nothing() {
    let (clients, secs) = match std::env::var("STRATA_SERVE_LOAD") {
        Ok(v) if !v.is_empty() => {
            let (c, s) = v
                .split_once('x')
                .expect("STRATA_SERVE_LOAD is CLIENTSxSECONDS, e.g. 32x60");
            (c.parse().expect("clients"), s.parse().expect("seconds"))
        }
        _ => (8usize, 10u64),
    };
    strata_remote::init_tls();
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    let (mut child, base) = serve::spawn(
        &served,
        "127.0.0.1:0",
        &[],
        &[("STRATA_SERVE_TOKEN", TOKEN)],
    );
    let pushed = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    // One OS thread and runtime per client, so that a client's latencies are not its
    // neighbours' turns on a shared runtime.
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let (base, pushed) = (base.clone(), Arc::clone(&pushed));
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(client_loop(i, base, until, pushed))
            })
        })
        .collect();
    let tallies: Vec<Tally> = threads
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    let wall = start.elapsed();

    let mut all = Tally::default();
    for t in tallies {
        all.put.extend(t.put);
        all.get.extend(t.get);
        all.head.extend(t.head);
        all.refused.extend(t.refused);
        all.failures.extend(t.failures);
        all.corrupt.extend(t.corrupt);
        all.unauthorized.extend(t.unauthorized);
    }
    let total = all.put.len() + all.get.len() + all.head.len() + all.refused.len();
    eprintln!(
        "strata serve under load: {clients} clients for {secs} s ({:.1} s wall): {total} requests \
         served ({:.0}/s), {} failed, {} corrupt",
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64(),
        all.failures.len(),
        all.corrupt.len()
    );
    for (name, v) in [
        ("PUT", &mut all.put),
        ("GET", &mut all.get),
        ("HEAD", &mut all.head),
        ("PUT without the right token (401)", &mut all.refused),
    ] {
        eprintln!("  {}", percentiles(name, v));
    }
    assert!(
        all.failures.is_empty(),
        "failed: {:?}",
        &all.failures[..all.failures.len().min(20)]
    );
    assert!(all.corrupt.is_empty(), "corrupt: {:?}", all.corrupt);
    assert!(!all.put.is_empty() && !all.get.is_empty() && !all.refused.is_empty());

    // Afterwards, on disk: every pushed object, with its content, and nothing else.
    let pushed = pushed.lock().unwrap().clone();
    let on_disk = files_under(&served);
    let mut expected = pushed.clone();
    expected.sort();
    expected.dedup();
    assert_eq!(
        on_disk, expected,
        "the served directory holds exactly what was pushed"
    );
    for k in &pushed {
        let bytes = std::fs::read(served.join(k)).unwrap();
        assert_eq!(blake3::hash(&bytes).to_hex().as_str(), name_in(k), "{k}");
    }
    for k in &all.unauthorized {
        assert!(
            !served.join(k).exists(),
            "{k} was written without the token"
        );
    }
    eprintln!(
        "  {} objects pushed and read back intact; {} unauthorized pushes wrote nothing",
        pushed.len(),
        all.unauthorized.len()
    );
    let _ = child.kill();
    let _ = child.wait();
}
