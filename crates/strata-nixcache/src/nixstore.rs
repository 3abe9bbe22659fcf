use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::process::Command;

use crate::{Error, StorePath};

/// The local Nix store, queried with `nix-store --query` (references, deriver, closure). Nix
/// keeps references in its database (found by scanning at build time), so asking it is both
/// exact and cheap; strata does not rescan NARs.
#[derive(Debug, Clone)]
pub struct NixStore {
    program: OsString,
}

/// What Nix knows about a valid store path besides its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    /// Sorted; includes the path itself when it refers to itself.
    pub references: Vec<StorePath>,
    pub deriver: Option<StorePath>,
}

impl Default for NixStore {
    fn default() -> Self {
        NixStore::new()
    }
}

impl NixStore {
    /// `nix-store` from PATH.
    pub fn new() -> NixStore {
        NixStore {
            program: "nix-store".into(),
        }
    }

    /// Another `nix-store` binary.
    pub fn with_program(program: impl Into<OsString>) -> NixStore {
        NixStore {
            program: program.into(),
        }
    }

    fn query(&self, args: &[&str]) -> Result<Vec<String>, Error> {
        let command = format!("{} {}", self.program.to_string_lossy(), args.join(" "));
        let out = Command::new(&self.program)
            .args(args)
            .output()
            .map_err(|source| Error::NixStoreMissing {
                program: self.program.to_string_lossy().into_owned(),
                source,
            })?;
        if !out.status.success() {
            return Err(Error::NixStoreFailed {
                command,
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// References and deriver of a valid path (an error names the path when it is not valid).
    pub fn path_info(&self, path: &StorePath) -> Result<PathInfo, Error> {
        let abs = path.absolute();
        let mut references = self
            .query(&["--query", "--references", &abs])?
            .iter()
            .map(|l| StorePath::parse(l))
            .collect::<Result<Vec<_>, _>>()?;
        references.sort();
        let deriver = match self.query(&["--query", "--deriver", &abs])?.first() {
            Some(d) if d != "unknown-deriver" => Some(StorePath::parse(d)?),
            _ => None,
        };
        Ok(PathInfo {
            references,
            deriver,
        })
    }

    /// `sha256:<nix base-32>` of the path's NAR as Nix recorded it (`nix-store -q --hash`).
    pub fn nar_hash(&self, path: &StorePath) -> Result<String, Error> {
        let abs = path.absolute();
        let lines = self.query(&["--query", "--hash", &abs])?;
        lines
            .into_iter()
            .next()
            .ok_or_else(|| Error::NixStoreFailed {
                command: format!("nix-store --query --hash {abs}"),
                status: "no output".into(),
                stderr: String::new(),
            })
    }

    /// `paths` and everything they refer to, each once, a path after its references (so a
    /// cache written in this order never lists a narinfo whose references are missing).
    /// Returns each path's info with it.
    pub fn closure(&self, paths: &[StorePath]) -> Result<Vec<(StorePath, PathInfo)>, Error> {
        let mut infos: BTreeMap<StorePath, PathInfo> = BTreeMap::new();
        let mut todo: Vec<StorePath> = paths.to_vec();
        while let Some(p) = todo.pop() {
            if infos.contains_key(&p) {
                continue;
            }
            let info = self.path_info(&p)?;
            todo.extend(info.references.iter().cloned());
            infos.insert(p, info);
        }
        // Depth-first post-order over the reference graph (acyclic apart from self-references).
        let mut order = Vec::with_capacity(infos.len());
        let mut done: BTreeSet<StorePath> = BTreeSet::new();
        // Guards against a malformed cyclic database looping forever.
        let mut visiting: BTreeSet<&StorePath> = BTreeSet::new();
        for root in infos.keys() {
            let mut stack: Vec<(&StorePath, usize)> = vec![(root, 0)];
            while let Some((p, i)) = stack.pop() {
                if done.contains(p) {
                    continue;
                }
                visiting.insert(p);
                let refs = &infos[p].references;
                match refs.get(i) {
                    Some(r) => {
                        stack.push((p, i + 1));
                        if !visiting.contains(r) && !done.contains(r) {
                            stack.push((r, 0));
                        }
                    }
                    None => {
                        visiting.remove(p);
                        done.insert(p.clone());
                        order.push(p.clone());
                    }
                }
            }
        }
        Ok(order
            .into_iter()
            .filter_map(|p| infos.remove(&p).map(|i| (p, i)))
            .collect())
    }
}
