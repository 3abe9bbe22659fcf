//! Errors of strata's own commands, rendered for people (what went wrong, where, what to do),
//! each with an exit code that says what kind of problem it was. cargo commands (`strata build`
//! …) exit with cargo's own code: a cache problem there is a warning, never an error.

use std::fmt;
use std::process::ExitCode;

use strata_remote::RemoteError;
use strata_store::StoreError;

/// What kind of problem a command met; decides the exit code (listed in docs/cli.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anything not below: a file strata writes, a tool it runs, a check that found problems.
    Failed,
    /// Bad arguments or flag values (clap's own usage errors exit with 2 as well).
    Usage,
    /// The configuration (config file, environment variables, key files) is wrong or missing.
    Config,
    /// The local store cannot be opened or read, or holds something wrong.
    Store,
    /// A remote cache refused, failed or did not answer.
    Remote,
}

impl Kind {
    pub fn code(self) -> u8 {
        match self {
            Kind::Failed => 1,
            Kind::Usage => 2,
            Kind::Config => 3,
            Kind::Store => 4,
            Kind::Remote => 5,
        }
    }
}

/// An error of one of strata's own commands.
#[derive(Debug)]
pub struct CliError {
    pub kind: Kind,
    /// What went wrong, naming the file, ref or remote it concerns.
    pub what: String,
    /// What the user can do about it, when there is something to say.
    pub help: Option<String>,
}

impl CliError {
    pub fn new(kind: Kind, what: impl Into<String>) -> CliError {
        CliError {
            kind,
            what: what.into(),
            help: None,
        }
    }
    pub fn failed(what: impl Into<String>) -> CliError {
        CliError::new(Kind::Failed, what)
    }
    pub fn usage(what: impl Into<String>) -> CliError {
        CliError::new(Kind::Usage, what)
    }
    pub fn config(what: impl Into<String>) -> CliError {
        CliError::new(Kind::Config, what)
    }
    pub fn store(what: impl Into<String>) -> CliError {
        CliError::new(Kind::Store, what)
    }
    pub fn remote(what: impl Into<String>) -> CliError {
        CliError::new(Kind::Remote, what)
    }

    pub fn help(mut self, help: impl Into<String>) -> CliError {
        self.help = Some(help.into());
        self
    }

    /// Print the error on stderr and return its exit code.
    pub fn report(&self) -> ExitCode {
        eprint!("{self}");
        ExitCode::from(self.kind.code())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.what)?;
        if let Some(h) = &self.help {
            writeln!(f, "  help: {h}")?;
        }
        Ok(())
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> CliError {
        CliError::store(e.to_string())
    }
}

impl From<RemoteError> for CliError {
    fn from(e: RemoteError) -> CliError {
        let kind = match &e {
            RemoteError::Store(_) => Kind::Store,
            RemoteError::Backend { .. }
            | RemoteError::Setup { .. }
            | RemoteError::Untrusted { .. }
            | RemoteError::Corrupt { .. }
            | RemoteError::Dangling { .. } => Kind::Remote,
            RemoteError::BadUrl { .. }
            | RemoteError::Config { .. }
            | RemoteError::Io { .. }
            | RemoteError::BadKey { .. }
            | RemoteError::NoSigningKey => Kind::Config,
            _ => Kind::Failed,
        };
        CliError::new(kind, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_rendering_says_what_and_what_to_do() {
        let kinds = [
            Kind::Failed,
            Kind::Usage,
            Kind::Config,
            Kind::Store,
            Kind::Remote,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| k.code()).collect();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        let e = CliError::usage("--max-size: `12Q` is not a size").help("use 500M, 10G or bytes");
        assert_eq!(
            e.to_string(),
            "error: --max-size: `12Q` is not a size\n  help: use 500M, 10G or bytes\n"
        );
    }
}
