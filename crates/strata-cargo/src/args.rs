//! The cargo command line strata was given. strata passes it to cargo untouched and derives from it
//! the options that decide which dependency units exist (profile, target, features, packages), so the
//! dependency build on the skeleton and the real build cannot drift apart (cargo-chef#115, #21, #92).

use std::path::PathBuf;

/// How much strata itself prints; mirrors cargo's `-q` / `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// A parsed `cargo <subcommand> <args…>` invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CargoCommand {
    /// `build`, `check`, `test`, `clippy`, `doc`, `run`, `nextest` …
    pub subcommand: String,
    /// Everything after the subcommand, exactly as given.
    pub args: Vec<String>,
    /// `--profile NAME`, or `release` for `--release`/`-r`; `None` means the subcommand's default.
    pub profile: Option<String>,
    pub targets: Vec<String>,
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    pub packages: Vec<String>,
    pub workspace: bool,
    pub exclude: Vec<String>,
    pub manifest_path: Option<PathBuf>,
    pub target_dir: Option<PathBuf>,
    pub locked: bool,
    pub frozen: bool,
    pub offline: bool,
    pub config: Vec<String>,
    pub unstable: Vec<String>,
    pub quiet: bool,
    pub verbose: u8,
    /// `--message-format` values as given (cargo accepts the flag more than once, and
    /// comma-separated values); nextest's `--cargo-message-format` counts here too.
    pub message_format: Vec<String>,
}

impl CargoCommand {
    pub fn parse(subcommand: &str, args: &[String]) -> CargoCommand {
        let mut cmd = CargoCommand {
            subcommand: subcommand.to_string(),
            args: args.to_vec(),
            ..CargoCommand::default()
        };
        let mut i = 0;
        while i < args.len() {
            let arg = args[i].as_str();
            if arg == "--" {
                break;
            }
            // `--flag=value`, `--flag value`, `-Xvalue` and `-X value` all mean the same to cargo.
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => match short_with_value(arg) {
                    Some((f, v)) => (f, Some(v)),
                    None => (arg, None),
                },
            };
            // nextest's own `--profile`/`-P` name a nextest profile; its cargo profile is
            // `--cargo-profile`.
            let nextest = cmd.subcommand == "nextest";
            let flag = match flag {
                "--profile" | "-P" if nextest => "--nextest-profile",
                "--cargo-profile" if nextest => "--profile",
                // nextest's own `--message-format` is for test results, not cargo's messages.
                "--message-format" if nextest => "--nextest-message-format",
                "--cargo-message-format" if nextest => "--message-format",
                f => f,
            };
            let takes_value = matches!(
                flag,
                "--nextest-profile"
                    | "--profile"
                    | "--target"
                    | "--features"
                    | "-F"
                    | "--package"
                    | "-p"
                    | "--exclude"
                    | "--manifest-path"
                    | "--target-dir"
                    | "--config"
                    | "-Z"
                    | "--message-format"
                    | "--nextest-message-format"
            );
            let value = if takes_value {
                match inline {
                    Some(v) => Some(v),
                    None => {
                        i += 1;
                        args.get(i).cloned()
                    }
                }
            } else {
                None
            };
            match (flag, value) {
                ("--release" | "-r", _) => cmd.profile = Some("release".into()),
                ("--profile", Some(v)) => cmd.profile = Some(v),
                ("--target", Some(v)) => cmd.targets.push(v),
                ("--features" | "-F", Some(v)) => cmd.features.extend(
                    v.split([',', ' '])
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                ),
                ("--all-features", _) => cmd.all_features = true,
                ("--no-default-features", _) => cmd.no_default_features = true,
                ("--package" | "-p", Some(v)) => cmd.packages.push(v),
                ("--workspace" | "--all", _) => cmd.workspace = true,
                ("--exclude", Some(v)) => cmd.exclude.push(v),
                ("--manifest-path", Some(v)) => cmd.manifest_path = Some(v.into()),
                ("--target-dir", Some(v)) => cmd.target_dir = Some(v.into()),
                ("--locked", _) => cmd.locked = true,
                ("--frozen", _) => cmd.frozen = true,
                ("--offline", _) => cmd.offline = true,
                ("--config", Some(v)) => cmd.config.push(v),
                ("-Z", Some(v)) => cmd.unstable.push(v),
                ("--message-format", Some(v)) => cmd.message_format.push(v),
                ("--quiet" | "-q", _) => cmd.quiet = true,
                ("--verbose", _) => cmd.verbose += 1,
                (f, _)
                    if f.starts_with('-')
                        && !f.starts_with("--")
                        && f.chars().skip(1).all(|c| c == 'v')
                        && f.len() > 1 =>
                {
                    cmd.verbose += (f.len() - 1) as u8
                }
                _ => {}
            }
            i += 1;
        }
        cmd.features.sort();
        cmd.features.dedup();
        cmd
    }

    pub fn verbosity(&self) -> Verbosity {
        if self.quiet {
            Verbosity::Quiet
        } else if self.verbose > 0 {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        }
    }

    /// The profile cargo uses for the dependencies of this command.
    pub fn profile_name(&self) -> String {
        match &self.profile {
            Some(p) => p.clone(),
            None if self.subcommand == "bench" => "release".into(),
            None => "dev".into(),
        }
    }

    /// The directory under the target dir that holds this profile's units (`dev` → `debug`).
    pub fn profile_dir(&self) -> String {
        match self.profile_name().as_str() {
            "dev" | "test" => "debug".into(),
            "bench" => "release".into(),
            other => other.into(),
        }
    }

    /// Arguments that select which dependency units exist, in a canonical order. Used both for the
    /// skeleton's dependency build and for the key.
    pub fn unit_selection_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(p) = &self.profile {
            out.extend(["--profile".to_string(), p.clone()]);
        } else if self.subcommand == "bench" {
            out.extend(["--profile".to_string(), "bench".into()]);
        }
        for t in &self.targets {
            out.extend(["--target".to_string(), t.clone()]);
        }
        if !self.features.is_empty() {
            out.extend(["--features".to_string(), self.features.join(",")]);
        }
        if self.all_features {
            out.push("--all-features".into());
        }
        if self.no_default_features {
            out.push("--no-default-features".into());
        }
        let mut packages = self.packages.clone();
        packages.sort();
        for p in packages {
            out.extend(["--package".to_string(), p]);
        }
        if self.workspace {
            out.push("--workspace".into());
        }
        let mut exclude = self.exclude.clone();
        exclude.sort();
        for e in exclude {
            out.extend(["--exclude".to_string(), e]);
        }
        for c in &self.config {
            out.extend(["--config".to_string(), c.clone()]);
        }
        for z in &self.unstable {
            out.extend(["-Z".to_string(), z.clone()]);
        }
        out
    }

    /// The family of commands whose units this command uses, which names its layers: commands of
    /// one family build the same units from the same key (`clippy` checks dependencies as `check`
    /// does; `test`, `bench` and `nextest` build dev-dependencies and test harnesses).
    pub fn scope(&self) -> &'static str {
        match self.subcommand.as_str() {
            "check" | "clippy" | "fix" => "check",
            "test" | "bench" | "nextest" => "test",
            "doc" | "rustdoc" => "doc",
            _ => "build",
        }
    }

    /// The arguments before a `--` (cargo's own), and the rest (for the program, rustc or
    /// rustdoc), `--` included.
    pub fn split_args(&self) -> (&[String], &[String]) {
        let end = self
            .args
            .iter()
            .position(|a| a == "--")
            .unwrap_or(self.args.len());
        self.args.split_at(end)
    }

    /// Did the user ask for cargo's JSON messages (then they must get exactly what cargo prints)?
    pub fn wants_json(&self) -> bool {
        self.message_format.iter().any(|f| f.starts_with("json"))
    }

    /// `--locked` / `--frozen` / `--offline`, which the dependency build must honour as well.
    pub fn lock_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.locked {
            out.push("--locked".into());
        }
        if self.frozen {
            out.push("--frozen".into());
        }
        if self.offline {
            out.push("--offline".into());
        }
        out
    }
}

/// `-pfoo` → (`-p`, `foo`), `-Ffeat` → (`-F`, `feat`), `-Zflag` → (`-Z`, `flag`).
fn short_with_value(arg: &str) -> Option<(&'static str, String)> {
    for f in ["-p", "-F", "-Z"] {
        if let Some(rest) = arg.strip_prefix(f)
            && !rest.is_empty()
            && !arg.starts_with("--")
        {
            return Some((f, rest.to_string()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> CargoCommand {
        let args: Vec<String> = s.split_whitespace().map(str::to_string).collect();
        CargoCommand::parse(&args[0], &args[1..])
    }

    #[test]
    fn release_and_profile() {
        assert_eq!(parse("build --release").profile_dir(), "release");
        assert_eq!(parse("build -r").profile_dir(), "release");
        assert_eq!(parse("build").profile_dir(), "debug");
        assert_eq!(parse("test").profile_dir(), "debug");
        assert_eq!(parse("build --profile=ci").profile_dir(), "ci");
        assert_eq!(parse("build --profile ci").profile_name(), "ci");
    }

    #[test]
    fn selection_is_canonical() {
        let a = parse("build -p b -p a --features y,x --target t1 --locked");
        let b = parse("build --package=a -pb -F x --features=y --target=t1");
        assert_eq!(a.unit_selection_args(), b.unit_selection_args());
        assert!(a.locked && !b.locked);
        assert_eq!(a.lock_args(), vec!["--locked".to_string()]);
    }

    #[test]
    fn stops_at_double_dash_and_counts_verbosity() {
        let c = parse("test -vv -q --release -- --features nope -p x");
        assert_eq!(c.verbose, 2);
        assert!(c.quiet);
        assert!(c.features.is_empty());
        assert!(c.packages.is_empty());
        assert_eq!(c.verbosity(), Verbosity::Quiet);
    }

    #[test]
    fn scopes_and_message_formats() {
        assert_eq!(parse("clippy --all-targets").scope(), "check");
        assert_eq!(parse("nextest run").scope(), "test");
        assert_eq!(parse("run --bin x").scope(), "build");
        let c = parse("build --message-format=json-diagnostic-short -- --x");
        assert!(c.wants_json());
        let (own, rest) = c.split_args();
        assert_eq!(own.len(), 1);
        assert_eq!(rest, ["--".to_string(), "--x".into()]);
        assert!(!parse("check --message-format short").wants_json());
        let n = parse("nextest run --message-format libtest-json");
        assert!(!n.wants_json());
        assert!(parse("nextest run --cargo-message-format json").wants_json());
    }

    #[test]
    fn nextest_profiles() {
        let c = parse("nextest run -P quick --cargo-profile release");
        assert_eq!(c.profile_dir(), "release");
        let c = parse("nextest run --profile ci");
        assert_eq!(c.profile_dir(), "debug");
    }

    #[test]
    fn counts_compiled_units() {
        let out = "   Compiling libc v0.2.1\n    Checking foo v0.1.0 (/x)\n       Fresh bar v1.0.0\nwarning: x\n";
        assert_eq!(count_compiled_units(out), 2);
    }

    fn count_compiled_units(s: &str) -> usize {
        crate::count_compiled(s)
    }
}
