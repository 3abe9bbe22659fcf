//! Counting the units cargo compiled, from its stderr (`CARGO_TERM_COLOR=never`).

/// Units compiled in one command's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitCount {
    /// `Compiling`/`Checking` lines of the real build, as `name vX.Y.Z` (path suffix dropped).
    pub compiled: Vec<String>,
    /// Lines of strata's skeleton builds (the dependency layer), counted apart.
    pub skeleton: usize,
}

impl UnitCount {
    pub fn count(&self) -> usize {
        self.compiled.len()
    }
}

const SKELETON_MARK: &str = "/strata-skeleton-";
const DEPS_LAYER_MARK: &str = "Strata building the dependency layer";

fn unit_name(line: &str) -> Option<String> {
    let t = line.trim_start();
    let rest = t
        .strip_prefix("Compiling ")
        .or_else(|| t.strip_prefix("Checking "))?;
    // `foo v1.2.3 (/path)`: keep name and version.
    let mut words = rest.split_whitespace();
    let name = words.next()?;
    Some(match words.next() {
        Some(v) if v.starts_with('v') => format!("{name} {v}"),
        _ => name.to_string(),
    })
}

fn is_finished(line: &str) -> bool {
    line.trim_start().starts_with("Finished ")
}

/// Count units. Plain cargo output: every `Compiling`/`Checking` line. strata's output after
/// `Strata building the dependency layer` holds the skeleton builds (each ending in its own
/// `Finished` line) before the real build: only the lines of the last cargo run, which starts
/// after the second-to-last `Finished`, are the real build's. Dependencies compiled in the
/// skeleton do not name the skeleton path, so the `Finished` lines are what separates them; any
/// line naming `/strata-skeleton-` is a skeleton unit wherever it stands.
pub fn count_units(stderr: &str) -> UnitCount {
    let lines: Vec<&str> = stderr.lines().collect();
    let real_start = match lines.iter().position(|l| l.contains(DEPS_LAYER_MARK)) {
        None => 0,
        Some(mark) => {
            let finished: Vec<usize> = (mark..lines.len())
                .filter(|&i| is_finished(lines[i]))
                .collect();
            match finished.len() {
                0 => lines.len(),
                // The skeleton ran but the real build did not finish: all after the last
                // `Finished` is the real build's attempt.
                1 => finished[0] + 1,
                n => finished[n - 2] + 1,
            }
        }
    };
    let mut out = UnitCount::default();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = unit_name(line) else {
            continue;
        };
        if i < real_start || line.contains(SKELETON_MARK) {
            out.skeleton += 1;
        } else {
            out.compiled.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strata_output_is_split_at_the_skeleton_builds() {
        let err = "\
      Strata building the dependency layer 0123456789ab from the skeleton
   Compiling memchr v2.7.4
   Compiling app v0.0.0 (/tmp/strata-skeleton-x1/app)
    Finished `release` profile [optimized] target(s) in 3.0s
    Checking memchr v2.7.4
    Checking app v0.0.0 (/tmp/strata-skeleton-x1/app)
    Finished `release` profile [optimized] target(s) in 1.0s
   Compiling app v0.1.0 (/work/a/app)
    Finished `release` profile [optimized] target(s) in 1.0s
      Strata restored 1 layer (4 units, 1 MiB), saved 2 layers (2 MiB, 1 MiB new in store) in 5.0s
";
        let c = count_units(err);
        assert_eq!(c.compiled, vec!["app v0.1.0"]);
        assert_eq!(c.skeleton, 4);
    }

    #[test]
    fn plain_cargo_output_counts_every_unit() {
        let err = "   Compiling a v1.0.0\n    Checking b v0.1.0 (/x)\n  Finished `dev`\n";
        let c = count_units(err);
        assert_eq!(c.compiled, vec!["a v1.0.0", "b v0.1.0"]);
        assert_eq!(c.skeleton, 0);
    }
}
