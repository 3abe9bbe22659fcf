use std::path::PathBuf;

use strata_store::{ObjectId, StoreError};

/// What can go wrong with a remote. Callers of a build turn these into one warning; commands
/// that act on remotes on purpose (`strata pull`, `strata key`) report them as errors.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("bad remote URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("remote {remote}: {op} `{key}` failed: {reason}")]
    Backend {
        remote: String,
        op: &'static str,
        key: String,
        reason: String,
    },
    /// The remote did not finish in time; `reason` names which bound and its setting.
    #[error("remote {remote}: {op} `{key}` timed out: {reason}")]
    Timeout {
        remote: String,
        op: &'static str,
        key: String,
        reason: String,
    },
    #[error("remote {remote}: {reason}")]
    Setup { remote: String, reason: String },
    #[error(
        "remote {remote}: layer {manifest} (ref `{name}`) is not signed by a trusted key{detail}; \
         not restoring it (add the signer's public key to `trusted_keys` in the config or \
         STRATA_TRUSTED_KEYS if you trust it)"
    )]
    Untrusted {
        remote: String,
        name: String,
        manifest: ObjectId,
        detail: String,
    },
    #[error("remote {remote}: {what} is corrupt: {reason}; not restoring it")]
    Corrupt {
        remote: String,
        what: String,
        reason: String,
    },
    #[error("remote {remote}: ref `{name}` names manifest {manifest}, which is missing there")]
    Dangling {
        remote: String,
        name: String,
        manifest: ObjectId,
    },
    #[error("local store: {0}")]
    Store(#[from] StoreError),
    #[error("{path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("bad key `{input}`: {reason}")]
    BadKey { input: String, reason: String },
    #[error(
        "no signing key: layers are only pushed signed. Run `strata key generate`, or set STRATA_SIGNING_KEY / `signing_key` in the config"
    )]
    NoSigningKey,
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl RemoteError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> RemoteError {
        RemoteError::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether the remote itself failed (down, slow, refusing), as opposed to data it served
    /// being rejected. A failed remote is skipped for the rest of the command.
    pub fn is_remote_failure(&self) -> bool {
        matches!(
            self,
            RemoteError::Backend { .. } | RemoteError::Setup { .. } | RemoteError::Timeout { .. }
        )
    }
}
