//! Which files of a local package does cargo read?
//!
//! strata follows crane's source filter, made conservative: a file is an input unless it is clearly
//! documentation or project chrome (README, LICENSE, images, CI config) *and* no compiled unit named
//! it in its dep-info or a build script's `rerun-if-changed`. Unknown file types count as inputs, so a
//! build script that reads `schema.json` without declaring it still triggers a rebuild.
//!
//! Cargo itself treats every file of a package with a build script lacking `rerun-if-changed` as an
//! input (the ripgrep root package rebuilds on a README edit); strata deliberately does not, so a
//! README edit costs nothing. The price: a build script that reads an undeclared *documentation*
//! file misses its change. [`SourceFilter::new`] takes extra patterns both ways; a configuration
//! file to set them is not there yet.

use std::collections::HashSet;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::WorkspaceError;

/// Names and extensions that cargo never reads on its own.
const NON_INPUT_GLOBS: &[&str] = &[
    "**/*.md",
    "**/*.markdown",
    "**/*.rst",
    "**/*.adoc",
    "**/*.png",
    "**/*.jpg",
    "**/*.jpeg",
    "**/*.gif",
    "**/*.svg",
    "**/*.ico",
    "**/*.pdf",
    "**/LICENSE*",
    "**/LICENCE*",
    "**/COPYING*",
    "**/UNLICENSE",
    "**/AUTHORS*",
    "**/CHANGELOG*",
    "**/CONTRIBUTING*",
    "**/NOTICE*",
    "**/CODEOWNERS",
    "**/.gitignore",
    "**/.gitattributes",
    "**/.editorconfig",
    ".github/**",
    ".gitlab/**",
    ".circleci/**",
    "**/rustfmt.toml",
    "**/.rustfmt.toml",
    "**/clippy.toml",
    "**/.clippy.toml",
    "**/deny.toml",
];

#[derive(Debug, Clone)]
pub struct SourceFilter {
    non_input: GlobSet,
    include: GlobSet,
}

impl SourceFilter {
    /// `extra_ignore`: more non-input globs; `include`: globs that are always inputs.
    pub fn new(
        extra_ignore: &[String],
        include: &[String],
    ) -> Result<SourceFilter, WorkspaceError> {
        let build = |patterns: &mut dyn Iterator<Item = &str>| -> Result<GlobSet, WorkspaceError> {
            let mut b = GlobSetBuilder::new();
            for p in patterns {
                b.add(Glob::new(p).map_err(|e| WorkspaceError::Pattern {
                    pattern: p.to_string(),
                    reason: e.to_string(),
                })?);
            }
            b.build().map_err(|e| WorkspaceError::Pattern {
                pattern: String::new(),
                reason: e.to_string(),
            })
        };
        Ok(SourceFilter {
            non_input: build(
                &mut NON_INPUT_GLOBS
                    .iter()
                    .copied()
                    .chain(extra_ignore.iter().map(String::as_str)),
            )?,
            include: build(&mut include.iter().map(String::as_str))?,
        })
    }

    /// Is `rel` (relative to its source root, '/'-separated) an input? `referenced` holds files that
    /// a unit's dep-info or a build script's `rerun-if-changed` named, in the same form.
    pub fn is_input(&self, rel: &str, referenced: &HashSet<String>) -> bool {
        if referenced.contains(rel) || self.include.is_match(Path::new(rel)) {
            return true;
        }
        !self.non_input.is_match(Path::new(rel))
    }
}

impl Default for SourceFilter {
    fn default() -> Self {
        // The built-in patterns are constants and compile; an empty set is the fallback.
        SourceFilter::new(&[], &[]).unwrap_or(SourceFilter {
            non_input: GlobSet::empty(),
            include: GlobSet::empty(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_are_not_inputs_unless_referenced() {
        let f = SourceFilter::default();
        let none = HashSet::new();
        assert!(!f.is_input("README.md", &none));
        assert!(!f.is_input("crates/globset/README.md", &none));
        assert!(!f.is_input("LICENSE-MIT", &none));
        assert!(!f.is_input(".github/workflows/ci.yml", &none));
        assert!(f.is_input("src/lib.rs", &none));
        assert!(f.is_input("Cargo.toml", &none));
        assert!(f.is_input("schema.json", &none));
        assert!(f.is_input("build.rs", &none));
        let referenced: HashSet<String> = ["README.md".to_string()].into();
        assert!(f.is_input("README.md", &referenced));
    }

    #[test]
    fn user_patterns() {
        let f = SourceFilter::new(&["notes/**".into()], &["docs/embedded.md".into()]).unwrap();
        let none = HashSet::new();
        assert!(!f.is_input("notes/x.rs", &none));
        assert!(f.is_input("docs/embedded.md", &none));
        assert!(SourceFilter::new(&["[".into()], &[]).is_err());
    }
}
