//! Remote URLs.
//!
//! | URL | backend |
//! |---|---|
//! | `file:///abs/dir` or `/abs/dir` | a directory (opendal fs) |
//! | `s3://bucket/prefix?endpoint=URL&region=R` | S3-compatible object storage (opendal s3) |
//! | `redis://[user:pass@]host:port[/db][?prefix=P]` | Redis (opendal redis) |
//! | `webdav+http(s)://host/path` | WebDAV (opendal webdav) |
//! | `http(s)://host:port/path` | `strata serve` (plain GET/HEAD/PUT, bearer token) |

use std::path::PathBuf;

use url::Url;

use crate::RemoteError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Fs {
        dir: PathBuf,
    },
    S3 {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
        region: Option<String>,
        virtual_host: bool,
    },
    Redis {
        endpoint: String,
        username: Option<String>,
        password: Option<String>,
        db: i64,
        prefix: String,
    },
    WebDav {
        endpoint: String,
        prefix: String,
    },
    Serve {
        /// Base URL without a trailing `/`; object `k` is at `<base>/<k>`.
        base: String,
    },
}

/// A parsed remote URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    /// The URL as given, with any password removed (for messages).
    pub display: String,
    pub backend: Backend,
}

impl std::fmt::Display for RemoteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

fn bad(url: &str, reason: impl Into<String>) -> RemoteError {
    RemoteError::BadUrl {
        url: redact(url),
        reason: reason.into(),
    }
}

/// `url` with a password replaced by `***`.
fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => match u.set_password(Some("***")) {
            Ok(()) => u.to_string(),
            Err(()) => redact_unparsed(url),
        },
        Ok(_) => url.to_string(),
        // A URL that does not parse (a bad port, say) may still hold a password: the error
        // message must not show it.
        Err(_) => redact_unparsed(url),
    }
}

/// Without a parse there is no telling where a password ends, so the user name goes too:
/// everything before the last `@` becomes `***`; without an `@`, an authority whose
/// `:` is not followed by a port (digits), e.g. a mistyped `user:password[::1]`, goes whole.
fn redact_unparsed(url: &str) -> String {
    let (prefix, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    // The last `@` anywhere (a password may hold a `/`), also in a URL whose `://` is mistyped.
    if let Some(at) = rest.rfind('@') {
        return format!("{prefix}***@{}", &rest[at + 1..]);
    }
    let Some(scheme) = prefix.strip_suffix("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let port_only = authority
        .rsplit_once(':')
        .is_none_or(|(host, port)| !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()));
    if port_only {
        url.to_string()
    } else {
        format!("{scheme}://***{tail}")
    }
}

fn clean_prefix(p: &str) -> String {
    p.split('/')
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

impl RemoteSpec {
    pub fn parse(input: &str) -> Result<RemoteSpec, RemoteError> {
        let input = input.trim();
        if input.starts_with('/') {
            return Ok(RemoteSpec {
                display: input.to_string(),
                backend: Backend::Fs {
                    dir: PathBuf::from(input),
                },
            });
        }
        let url = Url::parse(input).map_err(|e| bad(input, e.to_string()))?;
        let query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
        let allowed = |keys: &[&str]| -> Result<(), RemoteError> {
            for (k, _) in &query {
                if !keys.contains(&k.as_str()) {
                    return Err(bad(
                        input,
                        format!(
                            "unknown parameter `{k}` (this kind of remote takes: {})",
                            if keys.is_empty() {
                                "none".to_string()
                            } else {
                                keys.join(", ")
                            }
                        ),
                    ));
                }
            }
            Ok(())
        };
        let backend = match url.scheme() {
            "file" => {
                allowed(&[])?;
                let dir = url
                    .to_file_path()
                    .map_err(|()| bad(input, "not an absolute local path"))?;
                Backend::Fs { dir }
            }
            "s3" => {
                allowed(&["endpoint", "region", "virtual_host"])?;
                let bucket = url.host_str().unwrap_or("").to_string();
                if bucket.is_empty() {
                    return Err(bad(input, "no bucket (write s3://BUCKET/PREFIX)"));
                }
                let endpoint = get("endpoint");
                if let Some(e) = &endpoint
                    && Url::parse(e).is_err()
                {
                    return Err(bad(input, format!("endpoint `{e}` is not a URL")));
                }
                Backend::S3 {
                    bucket,
                    prefix: clean_prefix(url.path()),
                    endpoint,
                    region: get("region"),
                    virtual_host: matches!(get("virtual_host").as_deref(), Some("true" | "1")),
                }
            }
            "redis" => {
                allowed(&["prefix"])?;
                let host = url
                    .host_str()
                    .filter(|h| !h.is_empty())
                    .ok_or_else(|| bad(input, "no host"))?;
                let port = url.port().unwrap_or(6379);
                let path = clean_prefix(url.path());
                let db = if path.is_empty() {
                    0
                } else {
                    path.parse::<i64>().map_err(|_| {
                        bad(
                            input,
                            format!("the path must be a database number, not `{path}`"),
                        )
                    })?
                };
                Backend::Redis {
                    endpoint: format!("redis://{host}:{port}"),
                    username: Some(url.username().to_string()).filter(|u| !u.is_empty()),
                    password: url.password().map(str::to_string),
                    db,
                    prefix: clean_prefix(&get("prefix").unwrap_or_default()),
                }
            }
            "webdav+http" | "webdav+https" => {
                allowed(&[])?;
                let scheme = url.scheme().trim_start_matches("webdav+");
                let host = url.host_str().ok_or_else(|| bad(input, "no host"))?;
                let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
                Backend::WebDav {
                    endpoint: format!("{scheme}://{host}{port}"),
                    prefix: clean_prefix(url.path()),
                }
            }
            "http" | "https" => {
                allowed(&[])?;
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(bad(input, "no host"));
                }
                let s = url.as_str();
                Backend::Serve {
                    base: s.trim_end_matches('/').to_string(),
                }
            }
            other => {
                return Err(bad(
                    input,
                    format!(
                        "unknown scheme `{other}` (use file://, s3://, redis://, webdav+http(s):// or http(s):// for strata serve)"
                    ),
                ));
            }
        };
        Ok(RemoteSpec {
            display: redact(input),
            backend,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparsable_urls_never_show_a_password() {
        // A bad port after a password, a password holding '/', a mistyped '@'.
        for (url, shown) in [
            ("https://u:secret@host:99999/p", "https://***@host:99999/p"),
            ("https://u:se/cret@host:x/p", "https://***@host:x/p"),
            ("https://u:secret[::1]/p", "https://***/p"),
            ("https://host:80x/p", "https://***/p"),
            ("fil//u:secret@host/p", "***@host/p"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
            assert!(!redact(url).contains("secret") && !redact(url).contains("cret"));
        }
        // Nothing secret: shown as given.
        assert_eq!(redact("https://host:8080/p"), "https://host:8080/p");
    }

    #[test]
    fn parses_every_kind() {
        let s = RemoteSpec::parse(
            "s3://team-cache/strata/x?endpoint=http://127.0.0.1:3900&region=garage",
        )
        .unwrap();
        assert_eq!(
            s.backend,
            Backend::S3 {
                bucket: "team-cache".into(),
                prefix: "strata/x".into(),
                endpoint: Some("http://127.0.0.1:3900".into()),
                region: Some("garage".into()),
                virtual_host: false,
            }
        );
        let r = RemoteSpec::parse("redis://:pw@127.0.0.1:7000/2?prefix=strata").unwrap();
        assert_eq!(
            r.backend,
            Backend::Redis {
                endpoint: "redis://127.0.0.1:7000".into(),
                username: None,
                password: Some("pw".into()),
                db: 2,
                prefix: "strata".into(),
            }
        );
        assert!(!r.display.contains("pw"), "{}", r.display);
        assert_eq!(
            RemoteSpec::parse("file:///tmp/c").unwrap().backend,
            Backend::Fs {
                dir: "/tmp/c".into()
            }
        );
        assert_eq!(
            RemoteSpec::parse("http://127.0.0.1:8080/team/")
                .unwrap()
                .backend,
            Backend::Serve {
                base: "http://127.0.0.1:8080/team".into()
            }
        );
        assert_eq!(
            RemoteSpec::parse("webdav+https://dav.example/cache")
                .unwrap()
                .backend,
            Backend::WebDav {
                endpoint: "https://dav.example".into(),
                prefix: "cache".into()
            }
        );
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, needle) in [
            ("s3:///nobucket", "no bucket"),
            ("ftp://x/y", "unknown scheme"),
            ("s3://b/p?endpint=x", "unknown parameter `endpint`"),
            ("redis://h/abc", "database number"),
            ("not a url", "bad remote URL"),
        ] {
            let e = RemoteSpec::parse(url).unwrap_err().to_string();
            assert!(e.contains(needle), "{url}: {e}");
        }
    }

    /// Found by the property tests (src/fuzz.rs): a URL that does not parse was shown as
    /// given, password and all.
    #[test]
    fn bad_urls_do_not_show_passwords() {
        for url in [
            "redis://:hunter2@127.0.0.1:99999/",
            "file://:hunter2@",
            "s3://user:hunter2@b@/x?y=1",
            "http://u:hunter2@[::1/",
        ] {
            let e = RemoteSpec::parse(url).unwrap_err().to_string();
            assert!(
                e.contains("bad remote URL") && !e.contains("hunter2"),
                "{url}: {e}"
            );
        }
    }
}
