//! One storage interface over every backend: get, exists and put of whole objects by key.
//!
//! opendal's `Operator` is that interface for a directory, S3, Redis and WebDAV (as in
//! sccache). `strata serve` speaks plain HTTP (GET/HEAD/PUT with a bearer token), which is
//! simpler than WebDAV for a server to get right and lets a Nix substituter read the same
//! URLs; a small reqwest client implements the same three operations for it.

use std::time::Duration;

use futures::StreamExt;
use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::{ErrorKind, Operator, services};

use crate::RemoteError;
use crate::config::Timeouts;
use crate::spec::{Backend, RemoteSpec};

mod listing;
pub use listing::{Listed, SERVE_LIST_PATH, list_operator, listing_json};

/// Bound of one opendal operation without a body (stat, and each attempt of a write); reads
/// are bounded as a whole by [`Timeouts::total`].
const OP_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest object [`Objects::get`] takes into memory: a server cannot make strata allocate
/// more by sending more (or by announcing more).
pub const MAX_OBJECT: u64 = 1 << 30;
const RETRIES: usize = 2;
const RETRY_DELAY: Duration = Duration::from_millis(200);
/// Where the fs backend writes before renaming, so a killed writer never leaves a torn object
/// under its final name. Dot-names are never object keys.
pub const FS_TMP_DIR: &str = ".strata-tmp";

/// Make sure rustls has its crypto provider (ring; reqwest is built without one so that
/// aws-lc is not compiled) and opendal its HTTP transport. Safe to call many times.
pub fn init_tls() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal::HttpTransporter::install_default(
            opendal_http_transport_reqwest::ReqwestTransport::default(),
        );
    });
}

/// An opendal operator for `spec`, with the default timeouts and retries. Not for `strata
/// serve` URLs.
pub fn operator(spec: &RemoteSpec) -> Result<Operator, RemoteError> {
    operator_with(spec, &Timeouts::default())
}

/// An opendal operator for `spec`, with timeouts `t` and retries.
pub fn operator_with(spec: &RemoteSpec, t: &Timeouts) -> Result<Operator, RemoteError> {
    init_tls();
    let setup = |e: opendal::Error| RemoteError::Setup {
        remote: spec.display.clone(),
        reason: e.to_string(),
    };
    let op = match &spec.backend {
        Backend::Fs { dir } => {
            let root = dir.to_string_lossy();
            let tmp = dir.join(FS_TMP_DIR);
            Operator::new(
                services::Fs::default()
                    .root(&root)
                    .atomic_write_dir(&tmp.to_string_lossy()),
            )
            .map_err(setup)?
        }
        Backend::S3 {
            bucket,
            prefix,
            endpoint,
            region,
            virtual_host,
        } => {
            // Credentials come from the AWS environment variables and profile files. The EC2
            // instance metadata service is never asked: off EC2 it is an address that must not
            // be probed, and the wait would stall every build.
            let mut b = services::S3::default()
                .bucket(bucket)
                .root(&format!("/{prefix}"))
                .disable_ec2_metadata();
            if let Some(e) = endpoint {
                b = b.endpoint(e);
            }
            if let Some(r) = region {
                b = b.region(r);
            } else if let Ok(r) =
                std::env::var("AWS_REGION").or(std::env::var("AWS_DEFAULT_REGION"))
            {
                b = b.region(&r);
            } else {
                b = b.region("us-east-1");
            }
            if *virtual_host {
                b = b.enable_virtual_host_style();
            }
            Operator::new(b).map_err(setup)?
        }
        Backend::Redis {
            endpoint,
            username,
            password,
            db,
            prefix,
        } => {
            let mut b = opendal_service_redis::Redis::default()
                .endpoint(endpoint)
                .db(*db)
                .root(&format!("/{prefix}"));
            if let Some(u) = username {
                b = b.username(u);
            }
            if let Some(p) = password {
                b = b.password(p);
            }
            Operator::new(b).map_err(setup)?
        }
        Backend::WebDav { endpoint, prefix } => {
            let mut b = services::Webdav::default()
                .endpoint(endpoint)
                .root(&format!("/{prefix}"));
            if let Ok(t) = std::env::var("STRATA_REMOTE_TOKEN")
                && !t.is_empty()
            {
                b = b.token(&t);
            }
            Operator::new(b).map_err(setup)?
        }
        Backend::Serve { .. } => {
            return Err(RemoteError::Setup {
                remote: spec.display.clone(),
                reason: "a strata serve URL has no opendal backend".into(),
            });
        }
    };
    Ok(op
        .layer(
            TimeoutLayer::new()
                .with_timeout(OP_TIMEOUT.min(t.total))
                .with_io_timeout(t.io),
        )
        .layer(
            RetryLayer::new()
                .with_max_times(RETRIES)
                .with_min_delay(RETRY_DELAY)
                .with_jitter(),
        ))
}

/// A remote's objects.
#[derive(Clone)]
pub struct Objects {
    name: String,
    inner: Inner,
    timeouts: Timeouts,
}

/// Which bound a timed-out request hit.
#[derive(Clone, Copy)]
enum Bound {
    Connect,
    Io,
    Total,
}

#[derive(Clone)]
enum Inner {
    Dal(Operator),
    Http {
        client: reqwest::Client,
        base: String,
        token: Option<String>,
    },
}

impl Objects {
    pub fn new(
        spec: &RemoteSpec,
        token: Option<String>,
        timeouts: Timeouts,
    ) -> Result<Objects, RemoteError> {
        let inner = match &spec.backend {
            Backend::Serve { base } => {
                init_tls();
                // The whole-request bound is applied around each operation (body included),
                // so that it can be told apart from the others in the warning.
                let client = reqwest::Client::builder()
                    .connect_timeout(timeouts.connect)
                    .read_timeout(timeouts.io)
                    .build()
                    .map_err(|e| RemoteError::Setup {
                        remote: spec.display.clone(),
                        reason: e.to_string(),
                    })?;
                Inner::Http {
                    client,
                    base: base.clone(),
                    token,
                }
            }
            _ => Inner::Dal(operator_with(spec, &timeouts)?),
        };
        Ok(Objects {
            name: spec.display.clone(),
            inner,
            timeouts,
        })
    }

    fn timed_out(&self, op: &'static str, key: &str, bound: Bound) -> RemoteError {
        let t = &self.timeouts;
        let reason = match bound {
            Bound::Connect => format!(
                "no connection within {:?} (connect_timeout, STRATA_REMOTE_CONNECT_TIMEOUT)",
                t.connect
            ),
            Bound::Io => format!(
                "no data for {:?} (io_timeout, STRATA_REMOTE_IO_TIMEOUT)",
                t.io
            ),
            Bound::Total => format!(
                "not done within {:?} (timeout, STRATA_REMOTE_TIMEOUT)",
                t.total
            ),
        };
        RemoteError::Timeout {
            remote: self.name.clone(),
            op,
            key: key.to_string(),
            reason,
        }
    }

    /// A reqwest error as a timeout (which one) or a backend failure.
    fn http_err(&self, op: &'static str, key: &str, e: &reqwest::Error) -> RemoteError {
        if e.is_timeout() {
            self.timed_out(
                op,
                key,
                if e.is_connect() {
                    Bound::Connect
                } else {
                    Bound::Io
                },
            )
        } else {
            self.err(op, key, with_sources(e))
        }
    }

    /// An opendal error; its timeout layer reports "timeout reached" as an unexpected error.
    fn dal_err(&self, op: &'static str, key: &str, e: opendal::Error) -> RemoteError {
        if e.kind() == ErrorKind::Unexpected && e.to_string().contains("timeout reached") {
            self.timed_out(op, key, Bound::Io)
        } else {
            self.err(op, key, e)
        }
    }

    fn too_large(&self, key: &str, max: u64, what: &str) -> RemoteError {
        RemoteError::Corrupt {
            remote: self.name.clone(),
            what: format!("`{key}`"),
            reason: format!("{what} more than the {max} bytes strata accepts for it"),
        }
    }

    /// `fut` within the whole-request bound.
    async fn bounded<T>(
        &self,
        op: &'static str,
        key: &str,
        fut: impl std::future::Future<Output = Result<T, RemoteError>>,
    ) -> Result<T, RemoteError> {
        match tokio::time::timeout(self.timeouts.total, fut).await {
            Ok(r) => r,
            Err(_) => Err(self.timed_out(op, key, Bound::Total)),
        }
    }

    fn err(&self, op: &'static str, key: &str, reason: impl ToString) -> RemoteError {
        RemoteError::Backend {
            remote: self.name.clone(),
            op,
            key: key.to_string(),
            reason: reason.to_string(),
        }
    }

    /// The object, or `None` if there is none under `key`; at most [`MAX_OBJECT`] bytes.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        self.get_limited(key, MAX_OBJECT).await
    }

    /// The object, or `None` if there is none under `key`. An object larger than `max` bytes
    /// is refused as soon as that is known, without holding more than `max` bytes of it.
    pub async fn get_limited(&self, key: &str, max: u64) -> Result<Option<Vec<u8>>, RemoteError> {
        self.bounded("get", key, self.get_inner(key, max)).await
    }

    async fn get_inner(&self, key: &str, max: u64) -> Result<Option<Vec<u8>>, RemoteError> {
        // Announced sizes are only a hint for the first allocation, never trusted beyond it.
        const FIRST_ALLOC: u64 = 8 << 20;
        match &self.inner {
            Inner::Dal(op) => {
                let not_found = |e: &opendal::Error| e.kind() == ErrorKind::NotFound;
                let reader = match op.reader(key).await {
                    Ok(r) => r,
                    Err(e) if not_found(&e) => return Ok(None),
                    Err(e) => return Err(self.dal_err("get", key, e)),
                };
                let mut stream = match reader.into_stream(..).await {
                    Ok(s) => s,
                    Err(e) if not_found(&e) => return Ok(None),
                    Err(e) => return Err(self.dal_err("get", key, e)),
                };
                let mut out = Vec::new();
                while let Some(chunk) = stream.next().await {
                    let chunk = match chunk {
                        Ok(c) => c,
                        Err(e) if not_found(&e) && out.is_empty() => return Ok(None),
                        Err(e) => return Err(self.dal_err("get", key, e)),
                    };
                    if (out.len() + chunk.len()) as u64 > max {
                        return Err(self.too_large(key, max, "it has"));
                    }
                    for b in chunk {
                        out.extend_from_slice(&b);
                    }
                }
                Ok(Some(out))
            }
            Inner::Http { .. } => {
                let mut resp = self.send(reqwest::Method::GET, key, None).await?;
                match resp.status() {
                    reqwest::StatusCode::NOT_FOUND => Ok(None),
                    s if s.is_success() => {
                        let announced = resp.content_length();
                        if announced.is_some_and(|n| n > max) {
                            return Err(self.too_large(key, max, "the server announces"));
                        }
                        let mut out = Vec::with_capacity(
                            usize::try_from(announced.unwrap_or(0).min(max).min(FIRST_ALLOC))
                                .unwrap_or(0),
                        );
                        while let Some(chunk) = resp
                            .chunk()
                            .await
                            .map_err(|e| self.http_err("get", key, &e))?
                        {
                            if (out.len() + chunk.len()) as u64 > max {
                                return Err(self.too_large(key, max, "the server sends"));
                            }
                            out.extend_from_slice(&chunk);
                        }
                        Ok(Some(out))
                    }
                    s => Err(self.err("get", key, status_reason(s))),
                }
            }
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, RemoteError> {
        self.bounded("stat", key, async {
            match &self.inner {
                Inner::Dal(op) => op
                    .exists(key)
                    .await
                    .map_err(|e| self.dal_err("stat", key, e)),
                Inner::Http { .. } => {
                    let resp = self.send(reqwest::Method::HEAD, key, None).await?;
                    match resp.status() {
                        reqwest::StatusCode::NOT_FOUND => Ok(false),
                        s if s.is_success() => Ok(true),
                        s => Err(self.err("stat", key, status_reason(s))),
                    }
                }
            }
        })
        .await
    }

    pub async fn put(&self, key: &str, data: Vec<u8>) -> Result<(), RemoteError> {
        self.bounded("put", key, async {
            match &self.inner {
                Inner::Dal(op) => op
                    .write(key, data)
                    .await
                    .map(|_| ())
                    .map_err(|e| self.dal_err("put", key, e)),
                Inner::Http { .. } => {
                    let resp = self.send(reqwest::Method::PUT, key, Some(data)).await?;
                    match resp.status() {
                        s if s.is_success() => Ok(()),
                        s => Err(self.err("put", key, status_reason(s))),
                    }
                }
            }
        })
        .await
    }

    /// One HTTP request, retried on connection errors and 5xx answers.
    async fn send(
        &self,
        method: reqwest::Method,
        key: &str,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, RemoteError> {
        let Inner::Http {
            client,
            base,
            token,
        } = &self.inner
        else {
            return Err(self.err("request", key, "not an HTTP remote"));
        };
        let url = format!("{base}/{key}");
        let op = match method {
            reqwest::Method::GET => "get",
            reqwest::Method::HEAD => "stat",
            _ => "put",
        };
        let mut attempt = 0;
        loop {
            let mut req = client.request(method.clone(), &url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            let res = req.send().await;
            // A server that hangs is not asked again (one timeout is enough to give up on it);
            // refused connections and 5xx answers may be passing.
            let retry = match &res {
                Ok(r) => r.status().is_server_error(),
                Err(e) => e.is_connect() && !e.is_timeout(),
            };
            if !retry || attempt >= RETRIES {
                return res.map_err(|e| self.http_err(op, key, &e));
            }
            attempt += 1;
            tokio::time::sleep(RETRY_DELAY * (1 << attempt)).await;
        }
    }
}

/// An error with its causes ("error sending request: … : connection refused").
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

fn status_reason(s: reqwest::StatusCode) -> String {
    match s {
        reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN => format!(
            "{s} (the server wants a token: set STRATA_REMOTE_TOKEN or `token_env` in the config)"
        ),
        reqwest::StatusCode::PAYLOAD_TOO_LARGE => {
            format!("{s} (raise the server's --max-body)")
        }
        s => s.to_string(),
    }
}
