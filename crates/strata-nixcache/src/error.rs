use std::path::PathBuf;

/// What an [`crate::ObjectSink`] returns when it cannot check or write an object.
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{path}` is not a Nix store path: {reason}")]
    NotStorePath { path: String, reason: String },

    #[error(
        "store paths from different store directories ({first} and {other}) cannot share one binary cache"
    )]
    MixedStoreDirs { first: String, other: String },

    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot serialize {} as a NAR: {source}", path.display())]
    Nar {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot run `{program}` ({source}); is Nix installed and on PATH?")]
    NixStoreMissing {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`{command}` failed ({status}): {stderr}")]
    NixStoreFailed {
        command: String,
        status: String,
        stderr: String,
    },

    #[error("bad Nix key {what}: {reason}")]
    BadKey { what: String, reason: String },

    #[error("bad narinfo: {reason}")]
    BadNarInfo { reason: String },

    #[error("cannot compress the NAR of {path}: {source}")]
    Compress {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("binary cache object `{key}`: {source}")]
    Sink {
        key: String,
        #[source]
        source: SinkError,
    },
}
