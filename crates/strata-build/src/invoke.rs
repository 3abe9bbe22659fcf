//! Running the user's cargo command once, as cargo would run it, while learning from cargo's JSON
//! messages which units it compiled or found fresh.
//!
//! How cargo's output still reaches the user:
//! - `build`, `check`, `clippy`, `doc`, `fix`: cargo runs with `--message-format=json-render-diagnostics`.
//!   cargo then prints its status lines and rendered diagnostics to stderr as always (colours
//!   included), and only the JSON goes to stdout, which strata reads; any other stdout line is
//!   passed on.
//! - a user's own `--message-format=json…` (IDEs, rust-analyzer): stdout is passed on byte for
//!   byte, and read on the way.
//! - `test`, `bench`, `run`, `nextest`: the program must keep the real terminal, so a build pass
//!   (`--no-run`, or `cargo build` for `run`) with JSON comes first, then the command itself,
//!   untouched, which finds every unit fresh.
//! - a user's `--message-format` of another kind, `test --doc`, anything else: cargo runs
//!   untouched and strata falls back to reading the target dir ([`Outcome::units`] is `None`).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

use strata_cargo::CargoCommand;
use strata_cargo::messages::{Line, UnitMessage, parse_line};

use crate::report::Reporter;

const JSON: &str = "--message-format=json-render-diagnostics";

/// What one cargo command did.
pub struct Outcome {
    pub status: std::io::Result<ExitStatus>,
    /// The units cargo reported (compiled or fresh), in order; `None` when cargo ran without
    /// JSON messages.
    pub units: Option<Vec<UnitMessage>>,
    /// How long cargo took: the build pass when there is one (the part that compiles).
    pub cargo_ms: u64,
}

/// How the user's command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// Add JSON messages to the command itself.
    Inline,
    /// The user asked for JSON: pass stdout through and read it.
    Tee,
    /// A build pass with these arguments (subcommand first) and JSON, then the command untouched.
    BuildPass(Vec<String>),
    /// Untouched, no messages.
    Plain,
}

fn plan(cmd: &CargoCommand, default_bin: Option<&str>) -> Plan {
    if cmd.wants_json() {
        return Plan::Tee;
    }
    if !cmd.message_format.is_empty() {
        return Plan::Plain;
    }
    let (own, _) = cmd.split_args();
    let has = |flag: &str| own.iter().any(|a| a == flag);
    match cmd.subcommand.as_str() {
        "build" | "check" | "clippy" | "doc" | "fix" | "rustc" | "rustdoc" => Plan::Inline,
        "test" | "bench" if has("--doc") => Plan::Plain,
        "test" | "bench" if has("--no-run") => Plan::Inline,
        "test" | "bench" => {
            let mut args = vec![cmd.subcommand.clone(), "--no-run".into()];
            args.extend(own.iter().cloned());
            Plan::BuildPass(args)
        }
        "nextest" if own.first().is_some_and(|a| a == "run") => {
            let mut args = vec!["nextest".to_string()];
            args.extend(own.iter().cloned());
            if !has("--no-run") {
                args.push("--no-run".into());
            }
            args.push("--cargo-message-format=json-render-diagnostics".into());
            Plan::BuildPass(args)
        }
        "run" => {
            let mut args = vec!["build".to_string()];
            args.extend(own.iter().cloned());
            // `cargo run` builds one bin; without `--bin`/`--example`, the one cargo would pick.
            let named = own
                .iter()
                .any(|a| a.starts_with("--bin") || a.starts_with("--example"));
            if !named && let Some(bin) = default_bin {
                args.extend(["--bin".into(), bin.to_string()]);
            }
            Plan::BuildPass(args)
        }
        _ => Plan::Plain,
    }
}

/// Run `cmd` (with `envs`) as planned. `default_bin` is the bin `cargo run` would pick, if known.
pub fn run(
    cmd: &CargoCommand,
    envs: &[(OsString, OsString)],
    default_bin: Option<&str>,
    rep: &Reporter,
) -> Outcome {
    match plan(cmd, default_bin) {
        Plan::Inline => {
            let (own, rest) = cmd.split_args();
            let mut args: Vec<String> = own.to_vec();
            args.push(JSON.into());
            args.extend(rest.iter().cloned());
            read_messages(&cmd.subcommand, &args, envs, false, rep)
        }
        Plan::Tee => read_messages(&cmd.subcommand, &cmd.args, envs, true, rep),
        Plan::BuildPass(args) => {
            let mut args = args;
            if !args.iter().any(|a| a.starts_with("--cargo-message-format")) {
                args.push(JSON.into());
            }
            let sub = args.remove(0);
            let pass = read_messages(&sub, &args, envs, false, rep);
            if !pass.status.as_ref().is_ok_and(ExitStatus::success) {
                // cargo's own errors are printed; the command itself would fail the same way.
                return pass;
            }
            Outcome {
                status: run_plain(cmd, envs, rep),
                units: pass.units,
                cargo_ms: pass.cargo_ms,
            }
        }
        Plan::Plain => {
            let started = Instant::now();
            let status = run_plain(cmd, envs, rep);
            Outcome {
                status,
                units: None,
                cargo_ms: millis(started),
            }
        }
    }
}

/// Run the user's cargo command, output untouched.
pub fn run_plain(
    cmd: &CargoCommand,
    envs: &[(OsString, OsString)],
    rep: &Reporter,
) -> std::io::Result<ExitStatus> {
    let mut c = cargo(&cmd.subcommand, &cmd.args, envs);
    c.stdout(Stdio::inherit());
    rep.detail(&format!("running {c:?}"));
    let r = c.status();
    if let Err(e) = &r {
        rep.warn(&format!("could not run cargo: {e}"));
    }
    r
}

fn cargo(sub: &str, args: &[String], envs: &[(OsString, OsString)]) -> Command {
    let mut c = Command::new(strata_cargo::cargo_bin());
    c.arg(sub)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit());
    c
}

/// Run cargo with stdout piped; pass on what is not a JSON message (everything, with `tee`),
/// and collect the unit messages.
fn read_messages(
    sub: &str,
    args: &[String],
    envs: &[(OsString, OsString)],
    tee: bool,
    rep: &Reporter,
) -> Outcome {
    let mut c = cargo(sub, args, envs);
    c.stdout(Stdio::piped());
    rep.detail(&format!("running {c:?}"));
    let started = Instant::now();
    let mut child = match c.spawn() {
        Ok(child) => child,
        Err(e) => {
            rep.warn(&format!("could not run cargo: {e}"));
            return Outcome {
                status: Err(e),
                units: None,
                cargo_ms: 0,
            };
        }
    };
    let mut units = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let out = std::io::stdout();
        let mut out = out.lock();
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let parsed = std::str::from_utf8(&line).map_or(Line::Text, parse_line);
            // A closed stdout (`| head`) must not stop cargo: keep reading, stop writing.
            let pass_on = tee || parsed == Line::Text;
            if let Line::Unit(u) = parsed {
                units.push(u);
            }
            if pass_on {
                let _ = out.write_all(&line);
                let _ = out.flush();
            }
        }
    }
    let status = child.wait();
    if let Err(e) = &status {
        rep.warn(&format!("could not wait for cargo: {e}"));
    }
    Outcome {
        status,
        units: Some(units),
        cargo_ms: millis(started),
    }
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> CargoCommand {
        let args: Vec<String> = s.split_whitespace().map(str::to_string).collect();
        CargoCommand::parse(&args[0], &args[1..])
    }

    fn pass(p: Plan) -> Vec<String> {
        match p {
            Plan::BuildPass(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plans() {
        assert_eq!(plan(&parse("build --release"), None), Plan::Inline);
        assert_eq!(plan(&parse("clippy --all-targets"), None), Plan::Inline);
        assert_eq!(plan(&parse("check --message-format=json"), None), Plan::Tee);
        assert_eq!(
            plan(&parse("check --message-format short"), None),
            Plan::Plain
        );
        assert_eq!(plan(&parse("test --doc"), None), Plan::Plain);
        assert_eq!(plan(&parse("test --no-run"), None), Plan::Inline);
        assert_eq!(
            pass(plan(&parse("test -p a -- --nocapture"), None)),
            ["test", "--no-run", "-p", "a"]
        );
        assert_eq!(
            pass(plan(&parse("run --release -- arg"), Some("fx"))),
            ["build", "--release", "--bin", "fx"]
        );
        assert_eq!(
            pass(plan(&parse("run --bin other"), Some("fx"))),
            ["build", "--bin", "other"]
        );
        assert_eq!(
            pass(plan(&parse("nextest run -P quick"), None)),
            [
                "nextest",
                "run",
                "-P",
                "quick",
                "--no-run",
                "--cargo-message-format=json-render-diagnostics"
            ]
        );
        assert_eq!(plan(&parse("nextest list"), None), Plan::Plain);
    }
}
