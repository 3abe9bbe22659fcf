//! Which source files did the local units read? From cargo's own records: the encoded dep-info in
//! `.fingerprint/<pkg>-<hash>/dep-*` (what rustc reported: modules, `include_str!` files …) and
//! `cargo:rerun-if-changed` lines in `build/<pkg>-<hash>/output`.

use std::collections::{BTreeSet, HashSet};
use std::path::{Component, Path, PathBuf};

use strata_workspace::Workspace;

use crate::path::Group;
use crate::scan::TargetScan;

/// `(source root, path relative to it)` of every file a local unit named.
pub type ReferencedFiles = HashSet<(String, String)>;

pub fn referenced_files(ws: &Workspace, scan: &TargetScan) -> ReferencedFiles {
    let local: BTreeSet<String> = ws.local_names();
    let roots = ws.source_roots();
    let mut out = ReferencedFiles::new();
    for f in &scan.files {
        let Group::Unit { .. } = &f.group else {
            continue;
        };
        let Some(pkg) = scan.package_of(&f.group) else {
            continue;
        };
        if !local.contains(pkg) {
            continue;
        }
        let file_name = f.rel.rsplit('/').next().unwrap_or("");
        let is_dep_info = f.rel.contains("/.fingerprint/") && file_name.starts_with("dep-");
        let is_build_output = f.rel.contains("/build/") && f.rel.ends_with("/output");
        if !is_dep_info && !is_build_output {
            continue;
        }
        let Ok(bytes) = std::fs::read(scan.root.join(&f.rel)) else {
            continue;
        };
        let paths: Vec<PathBuf> = if is_dep_info {
            parse_encoded_dep_info(&bytes)
                .unwrap_or_default()
                .into_iter()
                .filter(|(ty, _)| *ty == 0)
                .map(|(_, p)| p)
                .collect()
        } else {
            rerun_if_changed(&String::from_utf8_lossy(&bytes))
        };
        for pkg_dir in ws.local.iter().filter(|p| p.name == pkg).map(|p| &p.dir) {
            for p in &paths {
                let abs = normalize(&pkg_dir.join(p));
                if let Some(r) = to_source_root(&roots, &abs) {
                    out.insert(r);
                }
            }
        }
    }
    out
}

/// Map an absolute path to `(root name, relative path)` if it lies under a source root.
pub fn to_source_root(roots: &[(String, PathBuf)], abs: &Path) -> Option<(String, String)> {
    roots
        .iter()
        .filter(|(_, dir)| abs.starts_with(dir))
        .max_by_key(|(_, dir)| dir.components().count())
        .and_then(|(name, dir)| {
            let rel = abs.strip_prefix(dir).ok()?;
            let rel = strata_workspace::rel_string(rel);
            (!rel.is_empty()).then(|| (name.clone(), rel))
        })
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub(crate) fn rerun_if_changed(output: &str) -> Vec<PathBuf> {
    output
        .lines()
        .filter_map(|l| {
            l.strip_prefix("cargo::rerun-if-changed=")
                .or_else(|| l.strip_prefix("cargo:rerun-if-changed="))
        })
        .map(|p| PathBuf::from(p.trim()))
        .collect()
}

/// Cargo's encoded dep-info (`cargo/core/compiler/fingerprint/dep_info.rs`): an optional version
/// header (`u32 1, 0xff, u8 version`), then `u32 count` entries of `u8 type` (0: relative to the
/// package root, 1: relative to the target root), `u32 len` + path bytes and, from version 1 on, a
/// checksum flag (`u8`, then `u64` + `u32 len` + bytes when set). Returns `None` on anything
/// unexpected: the caller then knows nothing more than the source filter does.
pub fn parse_encoded_dep_info(bytes: &[u8]) -> Option<Vec<(u8, PathBuf)>> {
    let mut r = Reader { bytes, pos: 0 };
    let first = r.u32()?;
    let (versioned, count) = if r.peek()? == 0xff && first == 1 {
        r.u8()?;
        let _version = r.u8()?;
        (true, r.u32()?)
    } else {
        (false, first)
    };
    // The count is untrusted: reserve no more entries than the bytes can hold (5 bytes each at
    // least), or a corrupt count asks for a hundred GiB and aborts the process.
    let mut out = Vec::with_capacity((count as usize).min(bytes.len() / 5));
    for _ in 0..count {
        let ty = r.u8()?;
        if ty > 1 {
            return None;
        }
        let path = r.bytes()?;
        if versioned && r.u8()? != 0 {
            r.u64()?;
            r.bytes()?;
        }
        use std::os::unix::ffi::OsStrExt;
        out.push((ty, PathBuf::from(std::ffi::OsStr::from_bytes(path))));
    }
    Some(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(entries: &[(u8, &str)]) -> Vec<u8> {
        let mut v = vec![1, 0, 0, 0, 0xff, 1];
        v.extend((entries.len() as u32).to_le_bytes());
        for (ty, p) in entries {
            v.push(*ty);
            v.extend((p.len() as u32).to_le_bytes());
            v.extend(p.as_bytes());
            v.push(0);
        }
        v.extend(0u32.to_le_bytes());
        v
    }

    #[test]
    fn parses_versioned_dep_info() {
        let b = encode(&[
            (0, "src/main.rs"),
            (0, "README.md"),
            (1, "release/build/x/out/a.rs"),
        ]);
        let got = parse_encoded_dep_info(&b).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], (0, PathBuf::from("README.md")));
        assert_eq!(got[2].0, 1);
        assert!(parse_encoded_dep_info(&b[..10]).is_none());
    }

    /// Found by the property tests (src/fuzz.rs): a count of 0x7fff_ffff entries reserved
    /// 64 GiB up front and aborted the process instead of returning `None`.
    #[test]
    fn a_huge_count_is_not_trusted() {
        let mut b = encode(&[(0, "src/lib.rs")]);
        b[6..10].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        assert!(parse_encoded_dep_info(&b).is_none());
        assert!(parse_encoded_dep_info(&u32::MAX.to_le_bytes()).is_none());
    }

    #[test]
    fn reads_rerun_if_changed() {
        let out = "cargo:rerun-if-changed=build.rs\ncargo::rerun-if-changed=data/x.json\ncargo:rustc-cfg=foo\n";
        assert_eq!(
            rerun_if_changed(out),
            vec![PathBuf::from("build.rs"), PathBuf::from("data/x.json")]
        );
    }

    #[test]
    fn maps_to_roots() {
        let roots = vec![
            ("ws".to_string(), PathBuf::from("/a/proj")),
            ("pkg-shared".to_string(), PathBuf::from("/a/shared")),
        ];
        assert_eq!(
            to_source_root(&roots, Path::new("/a/proj/crates/x/src/lib.rs")),
            Some(("ws".into(), "crates/x/src/lib.rs".into()))
        );
        assert_eq!(
            to_source_root(&roots, Path::new("/a/shared/src/lib.rs")),
            Some(("pkg-shared".into(), "src/lib.rs".into()))
        );
        assert_eq!(to_source_root(&roots, Path::new("/b/x.rs")), None);
    }
}
