//! The command line before clap sees it: strata's own flags of a cargo command may stand
//! anywhere before cargo's `--`, and cargo's arguments reach cargo exactly as given.

use std::ffi::OsString;

use clap::CommandFactory;

use crate::Cli;

/// A flag of strata's own: its spellings (`--no-save`, `-q`) and whether it takes a value.
struct OwnFlag {
    names: Vec<String>,
    takes_value: bool,
}

/// The subcommands whose trailing arguments belong to cargo, and strata's own flags of them
/// (their own and the global ones), both read from the clap definitions.
fn cargo_commands() -> (Vec<String>, Vec<OwnFlag>) {
    let mut cli = Cli::command();
    // Building propagates the global flags (`--store`) into every subcommand.
    cli.build();
    let mut names = Vec::new();
    let mut flags: Vec<OwnFlag> = Vec::new();
    for sub in cli.get_subcommands() {
        let passes_through = sub
            .get_positionals()
            .any(|a| a.get_id() == crate::commands::CARGO_ARGS_ID && a.is_trailing_var_arg_set());
        if !passes_through {
            continue;
        }
        names.push(sub.get_name().to_string());
        for a in sub.get_arguments().filter(|a| !a.is_positional()) {
            let mut spellings: Vec<String> = a
                .get_long_and_visible_aliases()
                .unwrap_or_default()
                .into_iter()
                .map(|l| format!("--{l}"))
                .collect();
            if let Some(s) = a.get_short() {
                spellings.push(format!("-{s}"));
            }
            // `-h`/`--help` stay where they are: before a `--` they ask for strata's help.
            if spellings.iter().any(|s| s == "--help") || flags.iter().any(|f| f.names == spellings)
            {
                continue;
            }
            flags.push(OwnFlag {
                names: spellings,
                takes_value: a.get_action().takes_values(),
            });
        }
    }
    (names, flags)
}

/// The global flags that take a value (`--store DIR`), to skip them before the subcommand.
fn global_flags_with_values() -> Vec<String> {
    Cli::command()
        .get_arguments()
        .filter(|a| a.is_global_set() && a.get_action().takes_values())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect()
}

/// Rewrite `strata [globals] <cmd> <args…>` so that strata's own flags may stand anywhere before
/// cargo's `--` and cargo's arguments reach cargo exactly as given (a leading `--` included):
/// own flags move in front, then an explicit `--` ends clap's parsing. `-h`/`--help` before a
/// `--` stays with clap, which prints strata's help for the command. strata's `-q`/`-v` are
/// cargo's too: they stay with cargo's arguments, and strata reads them from there.
pub fn normalize_args(args: Vec<OsString>) -> Vec<OsString> {
    let with_values = global_flags_with_values();
    let mut i = 1;
    while i < args.len() {
        match args[i].to_str() {
            Some(a) if with_values.iter().any(|f| f == a) => i += 2,
            Some(a) if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    let Some(sub) = args.get(i).and_then(|a| a.to_str()) else {
        return args;
    };
    let (commands, own_flags) = cargo_commands();
    if !commands.iter().any(|c| c == sub) {
        return args;
    }
    let rest = &args[i + 1..];
    let mut own = Vec::new();
    let mut cargo = Vec::new();
    let mut j = 0;
    let mut in_cargo_tail = false;
    let mut help = false;
    while j < rest.len() {
        let a = rest[j].to_string_lossy();
        let flag = own_flags.iter().find_map(|f| {
            f.names
                .iter()
                .find(|n| a == n.as_str() || a.starts_with(&format!("{n}=")))
                .map(|n| (n, f.takes_value))
        });
        if in_cargo_tail {
            cargo.push(rest[j].clone());
        } else if a == "--" {
            in_cargo_tail = true;
            cargo.push(rest[j].clone());
        } else if let Some((name, takes)) = flag
            && !is_cargo_too(name)
        {
            own.push(rest[j].clone());
            if takes && a == name.as_str() && j + 1 < rest.len() {
                j += 1;
                own.push(rest[j].clone());
            }
        } else {
            help |= a == "-h" || a == "--help";
            cargo.push(rest[j].clone());
        }
        j += 1;
    }
    let mut out: Vec<OsString> = args[..=i].to_vec();
    out.extend(own);
    if !help {
        out.push("--".into());
    }
    out.extend(cargo);
    out
}

/// `-q`/`-v` after the subcommand are cargo's flags as much as strata's: cargo gets them as
/// given (strata reads the verbosity from cargo's arguments).
fn is_cargo_too(name: &str) -> bool {
    matches!(name, "-q" | "--quiet" | "-v" | "--verbose")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Command;
    use clap::Parser;

    fn norm(s: &str) -> Vec<String> {
        normalize_args(s.split_whitespace().map(OsString::from).collect())
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn own_flags_move_and_cargo_args_stay_verbatim() {
        assert_eq!(
            norm("strata build --release --no-save -p x"),
            ["strata", "build", "--no-save", "--", "--release", "-p", "x"]
        );
        assert_eq!(
            norm("strata -q test -- --nocapture"),
            ["strata", "-q", "test", "--", "--", "--nocapture"]
        );
        assert_eq!(
            norm("strata build --deps-for build --release -- --no-save"),
            [
                "strata",
                "build",
                "--deps-for",
                "build",
                "--",
                "--release",
                "--",
                "--no-save"
            ]
        );
        assert_eq!(norm("strata build --help"), ["strata", "build", "--help"]);
        assert_eq!(
            norm("strata store gc --max-size 1G"),
            ["strata", "store", "gc", "--max-size", "1G"]
        );
        assert_eq!(
            norm("strata --store /s why --release"),
            ["strata", "--store", "/s", "why", "--", "--release"]
        );
        assert_eq!(
            norm("strata build --store=/s -v --no-remote"),
            ["strata", "build", "--store=/s", "--no-remote", "--", "-v"]
        );
    }

    #[test]
    fn own_flags_come_from_clap() {
        let (commands, flags) = cargo_commands();
        for c in [
            "build", "check", "test", "clippy", "doc", "run", "bench", "nextest", "why", "deps",
        ] {
            assert!(commands.iter().any(|x| x == c), "{c} missing: {commands:?}");
        }
        assert!(!commands.iter().any(|x| x == "store"));
        let has = |n: &str, v: bool| {
            flags
                .iter()
                .any(|f| f.names.iter().any(|x| x == n) && f.takes_value == v)
        };
        assert!(has("--no-restore", false));
        assert!(has("--no-save", false));
        assert!(has("--no-remote", false));
        assert!(has("--deps-for", true));
        assert!(has("--store", true));
    }

    #[test]
    fn parsed_cargo_args() {
        let cli = Cli::parse_from(normalize_args(
            "strata test --no-save -- --nocapture"
                .split_whitespace()
                .map(OsString::from)
                .collect(),
        ));
        match cli.command {
            Command::Test(a) => {
                assert!(a.cache.no_save);
                assert_eq!(a.args, ["--", "--nocapture"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
