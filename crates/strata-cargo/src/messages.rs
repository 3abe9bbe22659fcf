//! cargo's JSON messages (`--message-format=json…`), as far as strata reads them: which units a
//! run compiled or found fresh, and where their files are.

use std::path::PathBuf;

use serde::Deserialize;

/// One unit cargo reported: a compiled (or fresh) target, or a build script that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitMessage {
    /// cargo's package id (`registry+https://…#name@1.0.0`, `path+file:///…#0.1.0`).
    pub package_id: String,
    /// The target's name (`serde`, `build-script-build`, `rg`); empty for a build-script run.
    pub target_name: String,
    /// The target's kinds (`lib`, `bin`, `custom-build`, `proc-macro`, `example`, `test` …).
    pub target_kind: Vec<String>,
    /// Files cargo named: for a target its outputs (some uplifted out of the unit's own files),
    /// for a build-script run its `out` dir.
    pub paths: Vec<PathBuf>,
    /// cargo found the unit fresh (did not run rustc or the build script).
    pub fresh: bool,
    /// A build-script run (`build-script-executed`) rather than a compiled target.
    pub build_script_run: bool,
}

#[derive(Deserialize)]
struct Raw {
    reason: String,
    #[serde(default)]
    package_id: String,
    #[serde(default)]
    target: Option<RawTarget>,
    #[serde(default)]
    filenames: Vec<PathBuf>,
    #[serde(default)]
    fresh: bool,
    #[serde(default)]
    out_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
struct RawTarget {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: Vec<String>,
}

/// A line of cargo's stdout: a unit message, another JSON message, or not JSON at all (the
/// output of a program, which strata passes on untouched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Unit(UnitMessage),
    OtherJson,
    Text,
}

/// Read one line of cargo's stdout.
pub fn parse_line(line: &str) -> Line {
    let trimmed = line.trim_start();
    if !trimmed.starts_with('{') {
        return Line::Text;
    }
    let Ok(raw) = serde_json::from_str::<Raw>(trimmed) else {
        return Line::Text;
    };
    match raw.reason.as_str() {
        "compiler-artifact" => {
            let target = raw.target.unwrap_or(RawTarget {
                name: String::new(),
                kind: Vec::new(),
            });
            Line::Unit(UnitMessage {
                package_id: raw.package_id,
                target_name: target.name,
                target_kind: target.kind,
                paths: raw.filenames,
                fresh: raw.fresh,
                build_script_run: false,
            })
        }
        "build-script-executed" => Line::Unit(UnitMessage {
            package_id: raw.package_id,
            target_name: String::new(),
            target_kind: vec!["custom-build".into()],
            paths: raw.out_dir.into_iter().collect(),
            // cargo does not say whether a build script ran again; what matters is which unit.
            fresh: false,
            build_script_run: true,
        }),
        _ => Line::OtherJson,
    }
}

/// The package name in a cargo package id (`…#name@1.2.3`, `…/name#1.2.3`, `name 1.2.3 (…)`).
pub fn package_name(package_id: &str) -> Option<&str> {
    if let Some((head, frag)) = package_id.rsplit_once('#') {
        return match frag.split_once('@') {
            Some((name, _)) => Some(name),
            // `path+file:///x/name#1.2.3`: the name is the last path segment.
            None => head.rsplit('/').next(),
        };
    }
    package_id.split(' ').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_and_build_scripts() {
        let l = r#"{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#itoa@1.0.11","manifest_path":"/x/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"itoa","src_path":"/x/src/lib.rs","edition":"2018","doc":true,"doctest":true,"test":true},"profile":{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":false},"features":[],"filenames":["/t/debug/deps/libitoa-64bae39012d60436.rlib"],"executable":null,"fresh":true}"#;
        let Line::Unit(u) = parse_line(l) else {
            panic!("not a unit")
        };
        assert!(u.fresh && !u.build_script_run);
        assert_eq!(u.target_kind, ["lib"]);
        assert_eq!(package_name(&u.package_id), Some("itoa"));
        let b = r#"{"reason":"build-script-executed","package_id":"path+file:///w/app#fx-app@0.1.0","linked_libs":[],"linked_paths":[],"cfgs":[],"env":[],"out_dir":"/t/debug/build/fx-app-18da19215a27b14c/out"}"#;
        let Line::Unit(u) = parse_line(b) else {
            panic!("not a unit")
        };
        assert!(u.build_script_run);
        assert_eq!(u.paths.len(), 1);
        assert_eq!(package_name(&u.package_id), Some("fx-app"));
        assert_eq!(
            parse_line(r#"{"reason":"build-finished","success":true}"#),
            Line::OtherJson
        );
        assert_eq!(parse_line("hello {world}"), Line::Text);
        assert_eq!(parse_line("{not json"), Line::Text);
    }

    #[test]
    fn package_names_of_every_id_form() {
        assert_eq!(package_name("path+file:///w/core#0.1.0"), Some("core"));
        assert_eq!(
            package_name("path+file:///w/core#fx-core@0.1.0"),
            Some("fx-core")
        );
        assert_eq!(
            package_name("serde 1.0.0 (registry+https://x)"),
            Some("serde")
        );
    }
}
