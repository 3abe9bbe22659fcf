//! The remote part of strata's configuration: the config file plus environment variables.
//!
//! File: `$STRATA_CONFIG`, else `$XDG_CONFIG_HOME/strata/config.toml`, else
//! `~/.config/strata/config.toml`; a missing file is an empty configuration.
//!
//! ```toml
//! signing_key = "/home/me/.config/strata/signing.key"   # default: that path, when it exists
//! trusted_keys = ["team-1:BASE64PUBLICKEY="]
//!
//! [[remote]]
//! url = "s3://team-cache/strata?endpoint=http://127.0.0.1:3900&region=garage"
//! push = true                          # default true
//! token_env = "STRATA_REMOTE_TOKEN"    # bearer token for http(s):// and webdav remotes
//! timeout = "300s"                     # one whole request (default 300s)
//! io_timeout = "10s"                   # no progress at all (default 10s)
//! connect_timeout = "5s"               # no connection (default 5s)
//!
//! [publish]                            # whether a CI run pushes (see `policy`)
//! mode = "auto"                        # auto | always | never
//! refs = ["main", "release/*", "refs/tags/*"]   # default: the default branch and tags
//! protected = true                     # refs the CI marks protected publish too
//! default_branch = "main"              # when the CI does not say
//! ```
//!
//! Environment: `STRATA_REMOTE` (URLs separated by spaces or commas) replaces the file's
//! remotes; `STRATA_REMOTE_TOKEN` is their token; `STRATA_SIGNING_KEY` (a path) replaces
//! `signing_key`; `STRATA_TRUSTED_KEYS` (keys separated by spaces or commas) adds to
//! `trusted_keys`. The signing key's own public key is always trusted. `STRATA_PUBLISH`
//! replaces `[publish] mode`, `STRATA_PUBLISH_REFS` (refs separated by spaces or commas) its
//! `refs`, `STRATA_DEFAULT_BRANCH` its `default_branch`. `STRATA_REMOTE_TIMEOUT`,
//! `STRATA_REMOTE_IO_TIMEOUT` and `STRATA_REMOTE_CONNECT_TIMEOUT` replace the timeouts of every
//! remote.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::RemoteError;
use crate::policy::{Publish, PublishMode, PublishPolicy};
use crate::sign::{PublicKey, SecretKey};
use crate::spec::RemoteSpec;

#[derive(Debug, Clone)]
pub struct RemoteEntry {
    pub spec: RemoteSpec,
    pub push: bool,
    pub token: Option<String>,
    pub timeouts: Timeouts,
}

/// How long a remote may take before strata gives up on it (and builds without it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// One whole request, body included: bounds a server that trickles bytes.
    pub total: Duration,
    /// No byte received (or sent) for this long: bounds a server that stops answering.
    pub io: Duration,
    /// No connection for this long.
    pub connect: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            total: Duration::from_secs(300),
            io: Duration::from_secs(10),
            connect: Duration::from_secs(5),
        }
    }
}

/// The environment variables that replace every remote's timeouts, with the config-file field
/// each one stands for.
pub const TIMEOUT_VARS: [(&str, &str); 3] = [
    ("STRATA_REMOTE_TIMEOUT", "timeout"),
    ("STRATA_REMOTE_IO_TIMEOUT", "io_timeout"),
    ("STRATA_REMOTE_CONNECT_TIMEOUT", "connect_timeout"),
];

impl Timeouts {
    fn set(&mut self, field: &str, d: Duration) {
        match field {
            "timeout" => self.total = d,
            "io_timeout" => self.io = d,
            _ => self.connect = d,
        }
    }

    /// The defaults, replaced by whichever `STRATA_REMOTE_*TIMEOUT` variables are set.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Timeouts, RemoteError> {
        let mut t = Timeouts::default();
        t.apply_env(env)?;
        Ok(t)
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), RemoteError> {
        for (var, field) in TIMEOUT_VARS {
            if let Some(v) = env(var).filter(|v| !v.trim().is_empty()) {
                let d = parse_duration(&v).map_err(|reason| RemoteError::Config {
                    path: var.into(),
                    reason,
                })?;
                self.set(field, d);
            }
        }
        Ok(())
    }
}

/// `250ms`, `10s`, `2m`, or a bare number of seconds; more than zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, scale_ms) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (t, 1000.0)
    };
    let bad = || format!("`{text}` is not a duration (write e.g. `500ms`, `10s` or `2m`)");
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    let ms = n * scale_ms;
    if !ms.is_finite() || !(1.0..=86_400_000.0).contains(&ms) {
        return Err(format!("`{text}` is out of range (from 1ms to 24 hours)"));
    }
    Ok(Duration::from_millis(ms as u64))
}

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub remotes: Vec<RemoteEntry>,
    pub trusted: Vec<PublicKey>,
    pub signing_key: Option<SecretKey>,
    /// Where the signing key was read from (for messages).
    pub signing_key_path: Option<PathBuf>,
    pub publish_policy: PublishPolicy,
    /// The policy's decision for this run's environment.
    pub publish: Publish,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    signing_key: Option<PathBuf>,
    #[serde(default)]
    trusted_keys: Vec<String>,
    #[serde(default)]
    remote: Vec<FileRemote>,
    publish: Option<FilePublish>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FilePublish {
    mode: Option<String>,
    refs: Option<Vec<String>>,
    protected: Option<bool>,
    default_branch: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRemote {
    url: String,
    #[serde(default = "yes")]
    push: bool,
    token_env: Option<String>,
    timeout: Option<TomlDuration>,
    io_timeout: Option<TomlDuration>,
    connect_timeout: Option<TomlDuration>,
}

/// A duration in the config file: `"10s"`, `"500ms"`, or a number of seconds.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum TomlDuration {
    Secs(f64),
    Text(String),
}

impl TomlDuration {
    fn get(&self) -> Result<Duration, String> {
        match self {
            TomlDuration::Secs(n) => parse_duration(&n.to_string()),
            TomlDuration::Text(t) => parse_duration(t),
        }
    }
}

fn yes() -> bool {
    true
}

/// `$XDG_CONFIG_HOME/strata` or `~/.config/strata`.
pub fn config_dir(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(x) = var("XDG_CONFIG_HOME").map(PathBuf::from)
        && x.is_absolute()
    {
        return Some(x.join("strata"));
    }
    var("HOME").map(|h| PathBuf::from(h).join(".config").join("strata"))
}

pub fn config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(p) = env("STRATA_CONFIG").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    config_dir(env).map(|d| d.join("config.toml"))
}

/// Where `strata key generate` writes by default, and where a signing key is looked for.
pub fn default_signing_key_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    config_dir(env).map(|d| d.join("signing.key"))
}

fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

pub fn read_secret_key(path: &Path) -> Result<SecretKey, RemoteError> {
    let text = std::fs::read_to_string(path).map_err(|e| RemoteError::io(path, e))?;
    SecretKey::parse(text.trim()).map_err(|e| RemoteError::Config {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The public key's file next to a secret key file: `<path>.pub`.
pub fn public_key_path(secret: &Path) -> PathBuf {
    let mut p = secret.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// Write a new key pair: the secret key readable by its owner only, the public key beside it
/// (`<path>.pub`), neither ever half-written. An existing file is kept unless `force`.
pub fn write_key_pair(path: &Path, key: &SecretKey, force: bool) -> Result<PathBuf, RemoteError> {
    let pub_path = public_key_path(path);
    if !force && (path.exists() || pub_path.exists()) {
        return Err(RemoteError::Config {
            path: path.to_path_buf(),
            reason: "already exists; pass --force to replace it (layers signed with the old key \
                     stop verifying where only it is trusted)"
                .into(),
        });
    }
    write_atomic(path, &format!("{}\n", key.to_text()), 0o600)?;
    write_atomic(&pub_path, &format!("{}\n", key.public().to_text()), 0o644)?;
    Ok(pub_path)
}

fn write_atomic(path: &Path, text: &str, mode: u32) -> Result<(), RemoteError> {
    strata_fs::AtomicWrite::new()
        .mode(mode)
        .durable()
        .write(path, text.as_bytes())
        .map_err(|e| RemoteError::io(e.path, e.source))
}

/// `TOML parse error at line L, column C: <what>`, without the line itself that toml quotes:
/// the line may hold a remote URL's password, and the message goes to build logs.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return format!("TOML parse error: {}", e.message());
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(
        "TOML parse error at line {line}, column {column}: {}",
        e.message()
    )
}

impl Config {
    /// Read the config file and the environment (`std::env`).
    pub fn load() -> Result<Config, RemoteError> {
        Config::load_with(&|k| std::env::var(k).ok())
    }

    pub fn load_with(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, RemoteError> {
        let path = config_path(env);
        let file: FileConfig = match &path {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(text) => toml::from_str(&text).map_err(|e| RemoteError::Config {
                    path: p.clone(),
                    reason: toml_error(&text, &e),
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileConfig::default(),
                Err(e) => return Err(RemoteError::io(p, e)),
            },
            None => FileConfig::default(),
        };
        let file_path = path.unwrap_or_default();
        let in_file = |e: RemoteError| RemoteError::Config {
            path: file_path.clone(),
            reason: e.to_string(),
        };

        let mut cfg = Config::default();
        if let Some(urls) = env("STRATA_REMOTE").filter(|v| !v.trim().is_empty()) {
            let token = env("STRATA_REMOTE_TOKEN").filter(|t| !t.is_empty());
            for u in list(&urls) {
                let spec = RemoteSpec::parse(u).map_err(|e| RemoteError::Config {
                    path: "STRATA_REMOTE".into(),
                    reason: e.to_string(),
                })?;
                cfg.remotes.push(RemoteEntry {
                    spec,
                    push: true,
                    token: token.clone(),
                    timeouts: Timeouts::default(),
                });
            }
        } else {
            for r in &file.remote {
                let spec = RemoteSpec::parse(&r.url).map_err(in_file)?;
                let token = match &r.token_env {
                    Some(var) => Some(env(var).filter(|t| !t.is_empty()).ok_or_else(|| {
                        RemoteError::Config {
                            path: file_path.clone(),
                            reason: format!(
                                "remote {}: token_env names `{var}`, which is not set",
                                spec
                            ),
                        }
                    })?),
                    None => None,
                };
                let mut timeouts = Timeouts::default();
                for (field, v) in [
                    ("timeout", &r.timeout),
                    ("io_timeout", &r.io_timeout),
                    ("connect_timeout", &r.connect_timeout),
                ] {
                    if let Some(v) = v {
                        let d = v.get().map_err(|reason| RemoteError::Config {
                            path: file_path.clone(),
                            reason: format!("remote {spec}: {field}: {reason}"),
                        })?;
                        timeouts.set(field, d);
                    }
                }
                cfg.remotes.push(RemoteEntry {
                    spec,
                    push: r.push,
                    token,
                    timeouts,
                });
            }
        }
        // The environment wins over the file, as for the remotes themselves.
        for r in &mut cfg.remotes {
            r.timeouts.apply_env(env)?;
        }

        for k in &file.trusted_keys {
            cfg.trusted.push(PublicKey::parse(k).map_err(in_file)?);
        }
        if let Some(keys) = env("STRATA_TRUSTED_KEYS") {
            for k in list(&keys) {
                cfg.trusted
                    .push(PublicKey::parse(k).map_err(|e| RemoteError::Config {
                        path: "STRATA_TRUSTED_KEYS".into(),
                        reason: e.to_string(),
                    })?);
            }
        }

        // An explicitly named key must exist; the default path only if it does.
        let explicit = env("STRATA_SIGNING_KEY")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or(file.signing_key.clone());
        let key_path = match explicit {
            Some(p) => Some(p),
            None => default_signing_key_path(env).filter(|p| p.exists()),
        };
        if let Some(p) = key_path {
            let key = read_secret_key(&p)?;
            cfg.trusted.push(key.public());
            cfg.signing_key = Some(key);
            cfg.signing_key_path = Some(p);
        }

        let fp = file.publish.unwrap_or_default();
        let mut policy = PublishPolicy::default();
        if let Some(m) = &fp.mode {
            policy.mode = PublishMode::parse(m).map_err(|reason| RemoteError::Config {
                path: file_path.clone(),
                reason: format!("[publish] mode: {reason}"),
            })?;
        }
        if let Some(m) = env("STRATA_PUBLISH").filter(|v| !v.trim().is_empty()) {
            policy.mode = PublishMode::parse(&m).map_err(|reason| RemoteError::Config {
                path: "STRATA_PUBLISH".into(),
                reason,
            })?;
        }
        policy.refs = match env("STRATA_PUBLISH_REFS").filter(|v| !v.trim().is_empty()) {
            Some(v) => Some(list(&v).map(String::from).collect()),
            None => fp.refs,
        };
        policy.protected = fp.protected.unwrap_or(true);
        policy.default_branch = env("STRATA_DEFAULT_BRANCH")
            .filter(|v| !v.trim().is_empty())
            .or(fp.default_branch);
        cfg.publish = policy.decide(env, github_event(env).as_ref());
        cfg.publish_policy = policy;
        Ok(cfg)
    }
}

/// GitHub's event payload for this run, when there is one. It is the CI's file, not the user's
/// configuration: an unreadable one only means the policy knows less (e.g. no default branch).
fn github_event(env: &dyn Fn(&str) -> Option<String>) -> Option<serde_json::Value> {
    if env("GITHUB_ACTIONS").as_deref() != Some("true") {
        return None;
    }
    let path = env("GITHUB_EVENT_PATH").filter(|p| !p.is_empty())?;
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn publish_policy_from_file_env_and_event() {
        let dir = tempfile::tempdir().unwrap();
        let cfg_path = dir.path().join("config.toml");
        std::fs::write(
            &cfg_path,
            "[publish]\nrefs = [\"release/*\"]\nprotected = false\n",
        )
        .unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(&event, r#"{"repository": {"default_branch": "trunk"}}"#).unwrap();
        let mut vars: HashMap<&str, String> = HashMap::new();
        vars.insert("STRATA_CONFIG", cfg_path.display().to_string());
        vars.insert("GITHUB_ACTIONS", "true".into());
        vars.insert("GITHUB_EVENT_NAME", "push".into());
        vars.insert("GITHUB_EVENT_PATH", event.display().to_string());
        vars.insert("GITHUB_REF", "refs/heads/release/1.0".into());
        vars.insert("GITHUB_REF_PROTECTED", "true".into());
        let load = |vars: &HashMap<&str, String>| Config::load_with(&|k| vars.get(k).cloned());
        let c = load(&vars).unwrap();
        assert!(c.publish.push, "{:?}", c.publish);
        assert!(!c.publish_policy.protected);
        vars.insert("GITHUB_REF_PROTECTED", "false".into());

        // The file's refs replace the default: the default branch from the event no longer counts.
        vars.insert("GITHUB_REF", "refs/heads/trunk".into());
        assert!(!load(&vars).unwrap().publish.push);
        // The environment replaces the file's refs; the event names the default branch.
        vars.insert("STRATA_PUBLISH_REFS", "trunk, refs/tags/*".into());
        assert!(load(&vars).unwrap().publish.push);
        vars.remove("STRATA_PUBLISH_REFS");
        std::fs::write(&cfg_path, "").unwrap();
        assert!(
            load(&vars).unwrap().publish.push,
            "default: the event's default branch"
        );
        // STRATA_PUBLISH overrides the decision; a bad value names the variable.
        vars.insert("STRATA_PUBLISH", "never".into());
        assert!(!load(&vars).unwrap().publish.push);
        vars.insert("STRATA_PUBLISH", "yes".into());
        let e = load(&vars).unwrap_err().to_string();
        assert!(e.contains("STRATA_PUBLISH") && e.contains("`yes`"), "{e}");
        // An unreadable event only means the default branch is unknown.
        vars.remove("STRATA_PUBLISH");
        std::fs::write(&event, "not json").unwrap();
        let c = load(&vars).unwrap();
        assert!(
            !c.publish.push && c.publish.reason.contains("STRATA_DEFAULT_BRANCH"),
            "{:?}",
            c.publish
        );
        vars.insert("STRATA_DEFAULT_BRANCH", "trunk".into());
        assert!(load(&vars).unwrap().publish.push);
    }

    #[test]
    fn file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate("ci").unwrap();
        let key_path = dir.path().join("k");
        std::fs::write(&key_path, key.to_text()).unwrap();
        let other = SecretKey::generate("other").unwrap().public();
        let cfg_path = dir.path().join("config.toml");
        std::fs::write(
            &cfg_path,
            format!(
                "signing_key = {key_path:?}\ntrusted_keys = [{:?}]\n[[remote]]\nurl = \"file:///tmp/x\"\npush = false\n[[remote]]\nurl = \"http://127.0.0.1:1/\"\ntoken_env = \"TOK\"\n",
                other.to_text()
            ),
        )
        .unwrap();
        let mut vars: HashMap<&str, String> = HashMap::new();
        vars.insert("STRATA_CONFIG", cfg_path.display().to_string());
        vars.insert("TOK", "secret".into());
        let c = Config::load_with(&|k| vars.get(k).cloned()).unwrap();
        assert_eq!(c.remotes.len(), 2);
        assert!(!c.remotes[0].push);
        assert_eq!(c.remotes[1].token.as_deref(), Some("secret"));
        assert_eq!(c.trusted.len(), 2, "file key + own key");
        assert_eq!(c.signing_key.unwrap().name, "ci");

        // STRATA_REMOTE replaces the file's remotes.
        vars.insert("STRATA_REMOTE", "/a, /b".into());
        let c = Config::load_with(&|k| vars.get(k).cloned()).unwrap();
        assert_eq!(c.remotes.len(), 2);
        assert_eq!(c.remotes[1].spec.display, "/b");

        // Bad input names the file.
        std::fs::write(&cfg_path, "[[remote]]\nurl = \"ftp://x\"\n").unwrap();
        vars.remove("STRATA_REMOTE");
        let e = Config::load_with(&|k| vars.get(k).cloned())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.toml") && e.contains("unknown scheme"),
            "{e}"
        );
        // A syntax error says where, without quoting the line (it may hold a password).
        std::fs::write(
            &cfg_path,
            "[[remote]]\nurl = \"redis://:hunter2@127.0.0.1:6379\" push = true\n",
        )
        .unwrap();
        let e = Config::load_with(&|k| vars.get(k).cloned())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.toml") && e.contains("line 2, column") && !e.contains("hunter2"),
            "{e}"
        );
        std::fs::write(&cfg_path, "[publish]\nmode = \"sometimes\"\n").unwrap();
        let e = Config::load_with(&|k| vars.get(k).cloned())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.toml") && e.contains("`sometimes`"),
            "{e}"
        );
        std::fs::write(&cfg_path, "[[remote]]\nurl = \"/x\"\ntimeout = \"soon\"\n").unwrap();
        let e = Config::load_with(&|k| vars.get(k).cloned())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.toml") && e.contains("timeout") && e.contains("`soon`"),
            "{e}"
        );
        std::fs::write(&cfg_path, "remotes = 1\n").unwrap();
        let e = Config::load_with(&|k| vars.get(k).cloned())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.toml") && e.contains("unknown field"),
            "{e}"
        );
    }

    #[test]
    fn timeouts_from_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let cfg_path = dir.path().join("config.toml");
        std::fs::write(
            &cfg_path,
            "[[remote]]\nurl = \"/a\"\ntimeout = \"2m\"\nio_timeout = 3\n[[remote]]\nurl = \"/b\"\n",
        )
        .unwrap();
        let mut vars: HashMap<&str, String> = HashMap::new();
        vars.insert("STRATA_CONFIG", cfg_path.display().to_string());
        let c = Config::load_with(&|k| vars.get(k).cloned()).unwrap();
        let t = c.remotes[0].timeouts;
        assert_eq!(t.total, Duration::from_secs(120));
        assert_eq!(t.io, Duration::from_secs(3));
        assert_eq!(t.connect, Timeouts::default().connect);
        assert_eq!(c.remotes[1].timeouts, Timeouts::default());

        // The environment replaces them for every remote.
        vars.insert("STRATA_REMOTE_IO_TIMEOUT", "250ms".into());
        let c = Config::load_with(&|k| vars.get(k).cloned()).unwrap();
        assert!(
            c.remotes
                .iter()
                .all(|r| r.timeouts.io == Duration::from_millis(250))
        );
        assert_eq!(c.remotes[0].timeouts.total, Duration::from_secs(120));
        vars.insert("STRATA_REMOTE_TIMEOUT", "0s".into());
        let e = Config::load_with(&|k| vars.get(k).cloned())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("STRATA_REMOTE_TIMEOUT") && e.contains("out of range"),
            "{e}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration(" 40ms "), Ok(Duration::from_millis(40)));
        for bad in ["", "s", "-1s", "ten", "0", "NaNs", "1h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
