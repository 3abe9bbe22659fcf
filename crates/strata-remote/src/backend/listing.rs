//! Listing and deleting objects, for remote gc and verify. A child of `backend` so that it can
//! reach the backends without widening their interface for the transfer paths.

use std::time::{Duration, SystemTime};

use futures::TryStreamExt;
use opendal::{ErrorKind, Operator};

use super::{Inner, Objects, status_reason, with_sources};
use crate::RemoteError;
use crate::spec::{Backend, RemoteSpec};

/// One object found by a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The key, relative to the remote's prefix (e.g. `blobs/ab/ab…zst`).
    pub key: String,
    pub size: u64,
    /// When the backend last wrote it, when the backend knows (Redis does not).
    pub modified: Option<SystemTime>,
}

/// The path `strata serve` lists under; dot-names are never object keys, so no object can
/// shadow it.
pub const SERVE_LIST_PATH: &str = ".strata/list";

/// A listing that a server sent is untrusted: cap it (about 4 million objects).
const MAX_LISTING: usize = 1 << 30;

impl Objects {
    /// Every object whose key starts with `prefix` (a directory-like prefix ending in `/`),
    /// with sizes and, where the backend has them, modification times. `spec` is the remote
    /// these objects belong to (Redis is listed with its own client: opendal cannot list it).
    pub async fn list(&self, spec: &RemoteSpec, prefix: &str) -> Result<Vec<Listed>, RemoteError> {
        match &self.inner {
            Inner::Dal(op) => list_operator(spec, op, prefix).await,
            Inner::Http {
                client,
                base,
                token,
            } => {
                let mut url = url::Url::parse(&format!("{base}/{SERVE_LIST_PATH}"))
                    .map_err(|e| self.err("list", prefix, e))?;
                url.query_pairs_mut().append_pair("prefix", prefix);
                let mut req = client.get(url);
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let resp = req
                    .send()
                    .await
                    .map_err(|e| self.err("list", prefix, with_sources(&e)))?;
                let s = resp.status();
                if s == reqwest::StatusCode::NOT_FOUND
                    || s == reqwest::StatusCode::METHOD_NOT_ALLOWED
                {
                    return Err(self.err(
                        "list",
                        prefix,
                        format!("{s} (the server is a strata serve without listing: upgrade it)"),
                    ));
                }
                if !s.is_success() {
                    return Err(self.err("list", prefix, status_reason(s)));
                }
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| self.err("list", prefix, with_sources(&e)))?;
                if body.len() > MAX_LISTING {
                    return Err(self.err("list", prefix, "the listing is too large"));
                }
                parse_listing(&body).map_err(|reason| RemoteError::Corrupt {
                    remote: self.name.clone(),
                    what: format!("listing of `{prefix}`"),
                    reason,
                })
            }
        }
    }

    /// Delete `key`; deleting what is not there is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), RemoteError> {
        match &self.inner {
            Inner::Dal(op) => match op.delete(key).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
                Err(e) => Err(self.err("delete", key, e)),
            },
            Inner::Http {
                client,
                base,
                token,
            } => {
                let mut req = client.delete(format!("{base}/{key}"));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let resp = req
                    .send()
                    .await
                    .map_err(|e| self.err("delete", key, with_sources(&e)))?;
                match resp.status() {
                    s if s.is_success() || s == reqwest::StatusCode::NOT_FOUND => Ok(()),
                    s => Err(self.err("delete", key, status_reason(s))),
                }
            }
        }
    }
}

/// The JSON a listing is sent as by `strata serve`.
pub fn listing_json(items: &[Listed]) -> String {
    let v: Vec<serde_json::Value> = items
        .iter()
        .map(|l| {
            serde_json::json!({
                "key": l.key,
                "size": l.size,
                "modified": l.modified.and_then(|t| t
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .ok())
                    .map(|d| d.as_millis() as u64),
            })
        })
        .collect();
    serde_json::Value::Array(v).to_string()
}

fn parse_listing(body: &[u8]) -> Result<Vec<Listed>, String> {
    #[derive(serde::Deserialize)]
    struct Item {
        key: String,
        size: u64,
        modified: Option<u64>,
    }
    let items: Vec<Item> =
        serde_json::from_slice(body).map_err(|e| format!("not a listing: {e}"))?;
    Ok(items
        .into_iter()
        .map(|i| Listed {
            key: i.key,
            size: i.size,
            modified: i
                .modified
                .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms)),
        })
        .collect())
}

/// List `prefix` of the backend `op` was built for from `spec` (also used by `strata serve`).
pub async fn list_operator(
    spec: &RemoteSpec,
    op: &Operator,
    prefix: &str,
) -> Result<Vec<Listed>, RemoteError> {
    let err = |e: &dyn std::fmt::Display| RemoteError::Backend {
        remote: spec.display.clone(),
        op: "list",
        key: prefix.to_string(),
        reason: e.to_string(),
    };
    if let Backend::Redis { .. } = &spec.backend {
        return redis_scan(spec, prefix).await.map_err(|e| err(&e));
    }
    let lister = match op.lister_with(prefix).recursive(true).await {
        Ok(l) => l,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(&e)),
    };
    let entries: Vec<opendal::Entry> = match lister.try_collect().await {
        Ok(v) => v,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(&e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let (key, mut md) = entry.into_parts();
        let key = key.trim_start_matches('/').to_string();
        if md.is_dir() || key.ends_with('/') || key.split('/').any(|c| c.starts_with('.')) {
            // Directories, and the fs backend's temporary files (`.strata-tmp/`).
            continue;
        }
        if md.last_modified().is_none() {
            // Some listings leave out what a stat tells.
            md = match op.stat(&key).await {
                Ok(m) => m,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(err(&e)),
            };
        }
        out.push(Listed {
            key,
            size: md.content_length(),
            modified: md.last_modified().map(SystemTime::from),
        });
    }
    Ok(out)
}

/// Redis keys under the remote's prefix, by SCAN (opendal's Redis service cannot list); their
/// sizes by STRLEN. Redis keeps no modification times.
async fn redis_scan(spec: &RemoteSpec, prefix: &str) -> Result<Vec<Listed>, String> {
    let Backend::Redis {
        endpoint,
        username,
        password,
        db,
        prefix: root,
    } = &spec.backend
    else {
        return Err("not a Redis remote".into());
    };
    let url = url::Url::parse(endpoint).map_err(|e| format!("bad endpoint {endpoint}: {e}"))?;
    let host = url.host_str().unwrap_or("127.0.0.1").to_string();
    let port = url.port().unwrap_or(6379);
    let mut settings = redis::RedisConnectionInfo::default().set_db(*db);
    if let Some(u) = username {
        settings = settings.set_username(u);
    }
    if let Some(p) = password {
        settings = settings.set_password(p);
    }
    let info =
        redis::IntoConnectionInfo::into_connection_info(redis::ConnectionAddr::Tcp(host, port))
            .map_err(|e| e.to_string())?
            .set_redis_settings(settings);
    let client = redis::Client::open(info).map_err(|e| e.to_string())?;
    let mut con = tokio::time::timeout(
        Duration::from_secs(10),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| "no connection within 10 s".to_string())?
    .map_err(|e| e.to_string())?;
    // opendal stores `<root>/<key>` without the leading slash; an empty root means `<key>`.
    let base = if root.is_empty() {
        String::new()
    } else {
        format!("{root}/")
    };
    let pattern = format!("{}*", glob_escape(&format!("{base}{prefix}")));
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut con)
            .await
            .map_err(|e| e.to_string())?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    // SCAN may return a key twice.
    keys.sort();
    keys.dedup();
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.cmd("STRLEN").arg(k);
        }
        let sizes: Vec<u64> = pipe
            .query_async(&mut con)
            .await
            .map_err(|e| e.to_string())?;
        for (k, size) in chunk.iter().zip(sizes) {
            if let Some(rel) = k.strip_prefix(&base) {
                out.push(Listed {
                    key: rel.to_string(),
                    size,
                    modified: None,
                });
            }
        }
    }
    Ok(out)
}

/// `s` as a literal in a Redis glob pattern.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_round_trips_through_json() {
        let items = vec![
            Listed {
                key: "blobs/ab/abc.zst".into(),
                size: 12,
                modified: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)),
            },
            Listed {
                key: "refs/deps/k/build".into(),
                size: 65,
                modified: None,
            },
        ];
        assert_eq!(
            parse_listing(listing_json(&items).as_bytes()).unwrap(),
            items
        );
        assert!(parse_listing(b"{\"key\":1}").is_err());
    }

    #[test]
    fn glob_escapes_specials() {
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
