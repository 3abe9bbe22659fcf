//! `strata serve`: a small HTTP server for teams without object storage.
//!
//! Objects are addressed by key: `GET|HEAD|PUT /<key>`, stored through any opendal backend (a
//! directory, or S3, Redis, WebDAV). Pushes need the write token (`Authorization: Bearer`);
//! reads are open, or need the read token (the write token works too) when one is set. `GET
//! /health` answers `ok`. For remote gc, `GET /.strata/list?prefix=P` lists objects (JSON:
//! key, size, modified) and `DELETE /<key>` deletes one; both need the write token. The layout is whatever clients write: strata writes `blobs/`,
//! `manifests/`, `refs/`; a Nix binary cache under `nix/` is then the substituter URL
//! `http://HOST:PORT/nix`. Every request is logged as one line; SIGTERM or ctrl-c stops
//! accepting connections and lets those in flight finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opendal::{ErrorKind, Operator};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error("{0}")]
    Backend(#[from] strata_remote::RemoteError),
}

pub struct ServeConfig {
    pub listen: SocketAddr,
    pub backend: strata_remote::RemoteSpec,
    /// Needed for every PUT.
    pub write_token: String,
    /// Needed for reads when set.
    pub read_token: Option<String>,
    /// Largest request body accepted (bytes).
    pub max_body: usize,
}

struct AppState {
    op: Operator,
    backend: strata_remote::RemoteSpec,
    write_token: String,
    read_token: Option<String>,
}

/// Serve until SIGTERM or ctrl-c. `on_listen` gets the bound address (port 0 picks one).
pub fn run(cfg: ServeConfig, on_listen: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    rt.block_on(async move {
        let op = strata_remote::operator(&cfg.backend)?;
        let state = Arc::new(AppState {
            op,
            backend: cfg.backend.clone(),
            write_token: cfg.write_token,
            read_token: cfg.read_token,
        });
        let app = router(state, cfg.max_body);
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(ServeError::Serve)?;
        on_listen(addr);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(ServeError::Serve)?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn router(state: Arc<AppState>, max_body: usize) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route(
            &format!("/{}", strata_remote::SERVE_LIST_PATH),
            get(list_objects),
        )
        .route(
            "/{*key}",
            get(get_object)
                .head(head_object)
                .put(put_object)
                .delete(delete_object),
        )
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let len = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    tracing::info!(
        "{method} {path} {} {len} {:.1}ms",
        resp.status().as_u16(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    resp
}

/// Object keys are relative '/'-separated paths without `.`/`..`, empty or hidden components.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 1024
        && !key.contains('\\')
        && key
            .split('/')
            .all(|c| !c.is_empty() && !c.starts_with('.') && !c.contains('\0'))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Constant-time comparison: a token must not leak through response timing.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn can_read(s: &AppState, headers: &HeaderMap) -> bool {
    match (&s.read_token, bearer(headers)) {
        (None, _) => true,
        (Some(r), Some(t)) => same(r, t) || same(&s.write_token, t),
        (Some(_), None) => false,
    }
}

fn unauthorized(what: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        format!("{what} needs a valid bearer token\n"),
    )
        .into_response()
}

fn backend_error(e: impl std::fmt::Display) -> Response {
    tracing::warn!("backend: {e}");
    (StatusCode::BAD_GATEWAY, format!("backend error: {e}\n")).into_response()
}

async fn get_object(
    State(s): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !valid_key(&key) {
        return (StatusCode::BAD_REQUEST, "bad object key\n").into_response();
    }
    if !can_read(&s, &headers) {
        return unauthorized("reading");
    }
    match s.op.read(&key).await {
        Ok(buf) => (StatusCode::OK, buf.to_bytes()).into_response(),
        Err(e) if e.kind() == ErrorKind::NotFound => StatusCode::NOT_FOUND.into_response(),
        Err(e) => backend_error(e),
    }
}

async fn head_object(
    State(s): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !valid_key(&key) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    if !can_read(&s, &headers) {
        return unauthorized("reading");
    }
    match s.op.stat(&key).await {
        Ok(md) if md.is_file() => (
            StatusCode::OK,
            [(header::CONTENT_LENGTH, md.content_length().to_string())],
        )
            .into_response(),
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(e) if e.kind() == ErrorKind::NotFound => StatusCode::NOT_FOUND.into_response(),
        Err(e) => backend_error(e),
    }
}

async fn put_object(
    State(s): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !valid_key(&key) {
        return (StatusCode::BAD_REQUEST, "bad object key\n").into_response();
    }
    if !bearer(&headers).is_some_and(|t| same(t, &s.write_token)) {
        return unauthorized("pushing");
    }
    match s.op.write(&key, body).await {
        Ok(_) => StatusCode::CREATED.into_response(),
        Err(e) => backend_error(e),
    }
}

fn can_write(s: &AppState, headers: &HeaderMap) -> bool {
    bearer(headers).is_some_and(|t| same(t, &s.write_token))
}

/// Listing is for gc, which deletes: it takes the write token.
async fn list_objects(
    State(s): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if !can_write(&s, &headers) {
        return unauthorized("listing");
    }
    let prefix = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "prefix")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    // A prefix is a key's leading directories: `blobs/`, `refs/deps/`, or empty for all.
    if !prefix.is_empty() && !valid_key(prefix.trim_end_matches('/')) {
        return (StatusCode::BAD_REQUEST, "bad prefix\n").into_response();
    }
    match strata_remote::list_operator(&s.backend, &s.op, &prefix).await {
        Ok(items) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            strata_remote::listing_json(&items),
        )
            .into_response(),
        Err(e) => backend_error(e),
    }
}

async fn delete_object(
    State(s): State<Arc<AppState>>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !valid_key(&key) {
        return (StatusCode::BAD_REQUEST, "bad object key\n").into_response();
    }
    if !can_write(&s, &headers) {
        return unauthorized("deleting");
    }
    match s.op.delete(&key).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) if e.kind() == ErrorKind::NotFound => StatusCode::NO_CONTENT.into_response(),
        Err(e) => backend_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_tokens() {
        assert!(valid_key("blobs/ab/abcd.zst"));
        assert!(valid_key("nix/nix-cache-info"));
        for k in ["", "../x", "a//b", "a/./b", ".strata-tmp/x", "a\\b"] {
            assert!(!valid_key(k), "{k}");
        }
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }
}
