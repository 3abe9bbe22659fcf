//! The real servers the remote tests start on 127.0.0.1 (Garage for S3, Debian's redis-server,
//! rclone's WebDAV server, `strata serve`), each stopped when its handle drops.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::World;
use crate::serve;

/// A server process, killed when the test ends (also on panic).
pub struct Server {
    pub child: Child,
    pub what: String,
}

impl Server {
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A server program the test needs, and how `.ci/run` installs it.
#[track_caller]
pub fn require(bin: &str) -> PathBuf {
    let install = match bin {
        "garage" => "cargo install --locked garage --version 2.5.0 (.ci/run does this)",
        "redis-server" => "apt-get install redis-server (.ci/run does this)",
        "rclone" => "apt-get install rclone (.ci/run does this)",
        _ => ".ci/run",
    };
    crate::common::tools::require_tool(bin, install)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(port: u16, server: &mut Server) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("{} exited early: {status}", server.what);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{} did not listen on port {port} within 60 s", server.what);
}

pub fn start_redis(w: &World) -> (Server, String) {
    let bin = require("redis-server");
    let port = free_port();
    let mut c = Command::new(bin);
    c.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .current_dir(w.dir.path());
    let s = start_server(c, "redis-server", port);
    (s, format!("redis://127.0.0.1:{port}/0?prefix=team"))
}

/// Starts `c` quietly and waits until it listens on `port`.
pub fn start_server(mut c: Command, what: &str, port: u16) -> Server {
    let child = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let mut s = Server {
        child,
        what: what.into(),
    };
    wait_for_port(port, &mut s);
    s
}

pub fn garage(bin: &Path, conf: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .arg("-c")
        .arg(conf)
        .args(args)
        .output()
        .expect("run garage");
    assert!(
        out.status.success(),
        "garage {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A one-node Garage on loopback with bucket `strata` and a key allowed to use it; returns the
/// server, the remote URL and the AWS credentials.
pub fn start_garage(w: &World) -> (Server, String, Vec<(String, String)>) {
    let bin = require("garage");
    let dir = w.path("garage");
    std::fs::create_dir_all(&dir).unwrap();
    let (s3, rpc) = (free_port(), free_port());
    let secret: String = blake3::hash(dir.to_string_lossy().as_bytes())
        .to_hex()
        .to_string();
    let conf = dir.join("garage.toml");
    std::fs::write(
        &conf,
        format!(
            "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"sqlite\"\n\
             replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
             rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\
             [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{s3}\"\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let child = Command::new(&bin)
        .arg("-c")
        .arg(&conf)
        .arg("server")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
        .spawn()
        .expect("start garage");
    let mut server = Server {
        child,
        what: "garage server".into(),
    };
    wait_for_port(s3, &mut server);
    wait_for_port(rpc, &mut server);
    let node = garage(&bin, &conf, &["node", "id", "-q"]);
    let node = node.trim().split('@').next().unwrap().to_string();
    garage(
        &bin,
        &conf,
        &["layout", "assign", "-z", "dc1", "-c", "1G", &node],
    );
    garage(&bin, &conf, &["layout", "apply", "--version", "1"]);
    garage(&bin, &conf, &["bucket", "create", "strata"]);
    let key = garage(&bin, &conf, &["key", "create", "strata-test"]);
    let field = |name: &str| {
        key.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no `{name}` in garage's output:\n{key}"))
    };
    let (id, secret) = (field("Key ID:"), field("Secret key:"));
    garage(
        &bin,
        &conf,
        &[
            "bucket",
            "allow",
            "--read",
            "--write",
            "--owner",
            "strata",
            "--key",
            "strata-test",
        ],
    );
    (
        server,
        format!("s3://strata/team/cache?endpoint=http://127.0.0.1:{s3}&region=garage"),
        vec![
            ("AWS_ACCESS_KEY_ID".into(), id),
            ("AWS_SECRET_ACCESS_KEY".into(), secret),
        ],
    )
}

pub const SERVE_TOKEN: &str = "push-token-for-tests";
pub const READ_TOKEN: &str = "read-token-for-tests";

/// `strata serve --dir <dir>` on `port` (0: any); returns the server and its base URL.
pub fn start_serve(dir: &Path, port: u16) -> (Server, String) {
    start_serve_with(dir, port, &[])
}

pub fn start_serve_with(dir: &Path, port: u16, extra: &[&str]) -> (Server, String) {
    let (child, url) = serve::spawn(
        dir,
        &format!("127.0.0.1:{port}"),
        extra,
        &[
            ("STRATA_SERVE_TOKEN", SERVE_TOKEN),
            ("STRATA_READ_TOKEN", READ_TOKEN),
        ],
    );
    (
        Server {
            child,
            what: "strata serve".into(),
        },
        url,
    )
}

/// `rclone serve webdav` of a fresh directory; returns the server, the directory and the
/// remote URL (under `/team`).
pub fn start_webdav(w: &World) -> (Server, PathBuf, String) {
    let bin = require("rclone");
    let port = free_port();
    let dir = w.path("dav");
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = Command::new(bin);
    c.args(["serve", "webdav"])
        .arg(&dir)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .env("RCLONE_CONFIG", w.path("rclone.conf"));
    let s = start_server(c, "rclone serve webdav", port);
    (s, dir, format!("webdav+http://127.0.0.1:{port}/team"))
}
