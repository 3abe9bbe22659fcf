//! Which linker links with this toolchain: compile and run a tiny program with each candidate.

use std::path::Path;
use std::process::Command;

use crate::DevError;
use strata_cargo::rustc_bin;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linker {
    Mold,
    Lld,
    /// rustc's own choice (on x86_64 Linux since 1.90: its bundled rust-lld).
    Default,
}

impl Linker {
    pub fn name(self) -> &'static str {
        match self {
            Linker::Mold => "mold",
            Linker::Lld => "lld",
            Linker::Default => "default",
        }
    }

    /// The rustflags that select this linker (through `cc -fuse-ld=…`).
    pub fn rustflags(self) -> Vec<String> {
        match self {
            Linker::Mold => vec!["-C".into(), "link-arg=-fuse-ld=mold".into()],
            Linker::Lld => vec!["-C".into(), "link-arg=-fuse-ld=lld".into()],
            Linker::Default => Vec::new(),
        }
    }
}

/// What the user asked for with `--linker`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// strata's measured default (see `AUTO_ORDER`).
    Auto,
    /// mold if it works, else lld, else the default.
    Mold,
    /// lld if it works, else the default.
    Lld,
    Default,
}

/// The order `--linker auto` tries. Measured on this project's benchmark (docs/dev.md): on 2
/// cores neither mold nor a system lld made the edit-build loop of ripgrep or xh faster than
/// rustc 1.95's default (its bundled rust-lld), so auto keeps the default and writes nothing.
pub const AUTO_ORDER: &[Linker] = &[Linker::Default];

impl Preference {
    pub fn parse(s: &str) -> Option<Preference> {
        Some(match s {
            "auto" => Preference::Auto,
            "mold" => Preference::Mold,
            "lld" => Preference::Lld,
            "default" => Preference::Default,
            _ => return None,
        })
    }

    pub fn order(self) -> &'static [Linker] {
        match self {
            Preference::Auto => AUTO_ORDER,
            Preference::Mold => &[Linker::Mold, Linker::Lld, Linker::Default],
            Preference::Lld => &[Linker::Lld, Linker::Default],
            Preference::Default => &[Linker::Default],
        }
    }
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub linker: Linker,
    /// `Ok(what linked it)` (from the binary's `.comment`), or `Err(why not)`.
    pub result: Result<String, String>,
}

#[derive(Debug, Clone)]
pub struct LinkerChoice {
    pub linker: Linker,
    /// Every candidate tried, in order.
    pub probes: Vec<Probe>,
}

/// Try the candidates of `pref` in order; the first that links and runs a test program wins.
/// The default needs no probe when it comes last: it is what cargo does anyway.
pub fn choose(pref: Preference, cwd: &Path) -> Result<LinkerChoice, DevError> {
    let mut probes = Vec::new();
    for &linker in pref.order() {
        if linker == Linker::Default {
            return Ok(LinkerChoice { linker, probes });
        }
        let result = probe_flags(cwd, &linker.rustflags(), None)?;
        let ok = result.is_ok();
        probes.push(Probe { linker, result });
        if ok {
            return Ok(LinkerChoice { linker, probes });
        }
    }
    Ok(LinkerChoice {
        linker: Linker::Default,
        probes,
    })
}

/// Compile and run `fn main() {}` with the rustc cargo would use in `cwd` and these flags (and
/// `-C linker=…` when given). `Ok(Err(reason))` when it does not link or run.
pub fn probe_flags(
    cwd: &Path,
    rustflags: &[String],
    linker_path: Option<&str>,
) -> Result<Result<String, String>, DevError> {
    let dir = tempfile::Builder::new()
        .prefix("strata-linker-probe")
        .tempdir()
        .map_err(crate::io_err(&std::env::temp_dir()))?;
    let src = dir.path().join("probe.rs");
    let bin = dir.path().join("probe");
    std::fs::write(&src, "fn main() { println!(\"ok\"); }\n").map_err(crate::io_err(&src))?;
    let mut c = Command::new(rustc_bin());
    c.current_dir(cwd)
        .arg("--edition=2021")
        .args(["-C", "debuginfo=0"])
        .args(rustflags);
    if let Some(l) = linker_path {
        c.arg("-C").arg(format!("linker={l}"));
    }
    c.arg("-o").arg(&bin).arg(&src);
    let out = c.output().map_err(|source| DevError::Spawn {
        program: "rustc".into(),
        source,
    })?;
    if !out.status.success() {
        return Ok(Err(first_error(&String::from_utf8_lossy(&out.stderr))));
    }
    match Command::new(&bin).output() {
        Ok(o) if o.status.success() && o.stdout.starts_with(b"ok") => {}
        Ok(o) => {
            return Ok(Err(format!(
                "the linked test program failed ({})",
                o.status
            )));
        }
        Err(e) => return Ok(Err(format!("the linked test program did not start: {e}"))),
    }
    let bytes = std::fs::read(&bin).map_err(crate::io_err(&bin))?;
    Ok(Ok(linked_by(&bytes)))
}

/// Which linker wrote a binary, from the `.comment` strings linkers leave.
pub fn linked_by(bytes: &[u8]) -> String {
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if has(b"mold ") {
        "mold".into()
    } else if has(b"LLD") {
        "lld".into()
    } else {
        "another linker".into()
    }
}

/// The most telling line of rustc's error output (the linker's own complaint when there is one).
fn first_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).collect();
    let linker_note = lines.iter().rev().find(|l| {
        l.starts_with("= note:")
            && !l.contains("\"cc\"")
            && !l.contains("some arguments are omitted")
            && l.len() > "= note:".len() + 1
    });
    let pick = linker_note
        .or_else(|| lines.iter().find(|l| l.starts_with("error")))
        .copied()
        .unwrap_or("rustc failed");
    pick.trim_start_matches("= note:").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preference_orders_fall_back_to_the_default() {
        assert_eq!(
            Preference::parse("mold").unwrap().order(),
            [Linker::Mold, Linker::Lld, Linker::Default]
        );
        assert_eq!(
            Preference::parse("lld").unwrap().order(),
            [Linker::Lld, Linker::Default]
        );
        assert_eq!(
            Preference::parse("auto").unwrap().order().last(),
            Some(&Linker::Default)
        );
        assert!(Preference::parse("gold").is_none());
    }

    #[test]
    fn the_linkers_complaint_is_the_reason() {
        let stderr = "error: linking with `cc` failed: exit status: 1\n  |\n  = note:  \"cc\" \"-m64\" …\n  = note: some arguments are omitted. use `--verbose` to show all linker arguments\n  = note: collect2: fatal error: cannot find 'ld'\n          compilation terminated.\n";
        assert_eq!(
            first_error(stderr),
            "collect2: fatal error: cannot find 'ld'"
        );
        assert_eq!(
            first_error("error: unknown codegen option: `linkr`\n"),
            "error: unknown codegen option: `linkr`"
        );
    }

    #[test]
    fn linked_by_reads_the_comment_strings() {
        assert_eq!(
            linked_by(b"\0GCC: (Debian)\0mold 1.10.1 (compatible with GNU ld)\0"),
            "mold"
        );
        assert_eq!(linked_by(b"\0Linker: LLD 22.1.2\0"), "lld");
        assert_eq!(linked_by(b"\0GCC: (Debian)\0"), "another linker");
    }
}
