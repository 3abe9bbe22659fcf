//! The library's one error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not start `{cmd}`: {source}")]
    Spawn {
        cmd: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{cmd}` failed ({status})\n{tail}")]
    Command {
        cmd: String,
        status: String,
        tail: String,
    },
    #[error("workload `{spec}`: {reason}")]
    Workload { spec: String, reason: String },
    #[error("cargo metadata in {dir}: {reason}")]
    Metadata { dir: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Edit { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, BenchError>;

/// Attach what we were doing to an io error, since a bare "No such file" says too little.
pub trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| BenchError::Io {
            context: context(),
            source,
        })
    }
}
