//! One storage interface over every backend: get, exists and put of whole objects by key.
//!
//! opendal's `Operator` is that interface for a directory, S3, Redis and WebDAV (as in
//! sccache). `strata serve` speaks plain HTTP (GET/HEAD/PUT with a bearer token), which is
//! simpler than WebDAV for a server to get right and lets a Nix substituter read the same
//! URLs; a small reqwest client implements the same three operations for it.

use std::time::Duration;

use opendal::layers::{RetryLayer, TimeoutLayer};
use opendal::{ErrorKind, Operator, services};

use crate::RemoteError;
use crate::spec::{Backend, RemoteSpec};

/// Bounded waits: a slow remote costs seconds, never a stuck build.
const OP_TIMEOUT: Duration = Duration::from_secs(60);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request bound for `strata serve` transfers (large blobs on a slow link).
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);
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

/// An opendal operator for `spec`, with timeouts and retries. Not for `strata serve` URLs.
pub fn operator(spec: &RemoteSpec) -> Result<Operator, RemoteError> {
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
                .with_timeout(OP_TIMEOUT)
                .with_io_timeout(IO_TIMEOUT),
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
    pub fn new(spec: &RemoteSpec, token: Option<String>) -> Result<Objects, RemoteError> {
        let inner = match &spec.backend {
            Backend::Serve { base } => {
                init_tls();
                let client = reqwest::Client::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(IO_TIMEOUT)
                    .timeout(TRANSFER_TIMEOUT)
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
            _ => Inner::Dal(operator(spec)?),
        };
        Ok(Objects {
            name: spec.display.clone(),
            inner,
        })
    }

    fn err(&self, op: &'static str, key: &str, reason: impl ToString) -> RemoteError {
        RemoteError::Backend {
            remote: self.name.clone(),
            op,
            key: key.to_string(),
            reason: reason.to_string(),
        }
    }

    /// The object, or `None` if there is none under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        match &self.inner {
            Inner::Dal(op) => match op.read(key).await {
                Ok(buf) => Ok(Some(buf.to_vec())),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(self.err("get", key, e)),
            },
            Inner::Http { .. } => {
                let resp = self.send(reqwest::Method::GET, key, None).await?;
                match resp.status() {
                    reqwest::StatusCode::NOT_FOUND => Ok(None),
                    s if s.is_success() => resp
                        .bytes()
                        .await
                        .map(|b| Some(b.to_vec()))
                        .map_err(|e| self.err("get", key, with_sources(&e))),
                    s => Err(self.err("get", key, status_reason(s))),
                }
            }
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, RemoteError> {
        match &self.inner {
            Inner::Dal(op) => op.exists(key).await.map_err(|e| self.err("stat", key, e)),
            Inner::Http { .. } => {
                let resp = self.send(reqwest::Method::HEAD, key, None).await?;
                match resp.status() {
                    reqwest::StatusCode::NOT_FOUND => Ok(false),
                    s if s.is_success() => Ok(true),
                    s => Err(self.err("stat", key, status_reason(s))),
                }
            }
        }
    }

    pub async fn put(&self, key: &str, data: Vec<u8>) -> Result<(), RemoteError> {
        match &self.inner {
            Inner::Dal(op) => op
                .write(key, data)
                .await
                .map(|_| ())
                .map_err(|e| self.err("put", key, e)),
            Inner::Http { .. } => {
                let resp = self.send(reqwest::Method::PUT, key, Some(data)).await?;
                match resp.status() {
                    s if s.is_success() => Ok(()),
                    s => Err(self.err("put", key, status_reason(s))),
                }
            }
        }
    }

    /// Keys of every object under `prefix` (which ends with `/`), at any depth. `strata serve`
    /// has no listing: a deep check goes to its backend directly.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, RemoteError> {
        match &self.inner {
            Inner::Dal(op) => {
                let entries = op
                    .list_with(prefix)
                    .recursive(true)
                    .await
                    .map_err(|e| self.err("list", prefix, e))?;
                let mut keys: Vec<String> = entries
                    .into_iter()
                    .filter(|e| e.metadata().is_file())
                    .map(|e| e.path().trim_start_matches('/').to_string())
                    .collect();
                keys.sort();
                Ok(keys)
            }
            Inner::Http { .. } => Err(self.err(
                "list",
                prefix,
                "a strata serve remote cannot list its objects; check the directory or URL it serves instead",
            )),
        }
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
                return res.map_err(|e| self.err(op, key, with_sources(&e)));
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
