//! Property tests of cargo's JSON messages as strata reads them (the lines of cargo's stdout,
//! where a program's own output is mixed in): any line is a unit, other JSON or text, never a
//! panic; a unit message cargo could write reads back as written.
//!
//! Cases per property: `PROPTEST_CASES` (default 2000).

use std::path::PathBuf;

use proptest::collection::vec;
use proptest::prelude::*;
use strata_proptest::check;

use crate::messages::{Line, package_name, parse_line};

#[test]
fn any_line_reads_without_panics() {
    let deep = format!("{{\"reason\":{}", "[".repeat(50_000));
    check(
        prop_oneof![
            3 => "\\PC{0,80}",
            2 => "[{}\\[\\]\":,a-z0-9_ -]{0,80}".prop_map(|s| format!("{{{s}")),
            1 => Just(deep),
        ],
        |line| {
            let _ = parse_line(&line);
            let _ = package_name(&line);
            Ok(())
        },
    );
}

#[test]
fn unit_messages_read_back() {
    check(
        (
            prop_oneof![Just("compiler-artifact"), Just("build-script-executed")],
            "\\PC{0,30}",
            "\\PC{0,12}",
            vec("[a-z-]{1,10}", 0..3),
            vec("\\PC{0,30}", 0..3),
            any::<bool>(),
        ),
        |(reason, package_id, name, kind, files, fresh)| {
            let json = serde_json::json!({
                "reason": reason,
                "package_id": package_id,
                "target": {"name": name, "kind": kind},
                "filenames": files,
                "out_dir": "/t/debug/build/x-0123456789abcdef/out",
                "fresh": fresh,
            });
            let Line::Unit(u) = parse_line(&json.to_string()) else {
                return Err(TestCaseError::fail("not read as a unit"));
            };
            prop_assert_eq!(&u.package_id, &package_id);
            prop_assert_eq!(u.build_script_run, reason == "build-script-executed");
            if reason == "compiler-artifact" {
                prop_assert_eq!(&u.target_name, &name);
                prop_assert_eq!(&u.target_kind, &kind);
                let want: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
                prop_assert_eq!(&u.paths, &want);
                prop_assert_eq!(u.fresh, fresh);
            }
            Ok(())
        },
    );
}
