use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{Error, nix_base32};

/// SHA-256 and size of a NAR serialization, as a narinfo's `NarHash`/`NarSize` give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NarDigest {
    pub sha256: [u8; 32],
    pub size: u64,
}

impl NarDigest {
    /// `sha256:<nix base-32>`, the form of `NarHash` and of `nix-store -q --hash`.
    pub fn nix_hash(&self) -> String {
        format!("sha256:{}", nix_base32(&self.sha256))
    }
}

/// nix-nar needs its buffer to hold a whole name or symlink target; Linux caps names at 255
/// bytes and targets at 4095.
const ENCODER_BUFFER: usize = 16 * 1024;

/// Write the NAR serialization of `path` (a file, directory or symlink) to `out` and return its
/// digest. Uses the nix-nar crate's encoder (entries sorted by name, the executable bit of
/// regular files, symlink targets, 8-byte padding), whose bytes equal `nix-store --dump`.
pub fn dump_nar(path: &Path, out: &mut dyn Write) -> Result<NarDigest, Error> {
    let nar_err = |source: io::Error| Error::Nar {
        path: path.to_path_buf(),
        source,
    };
    // nix-nar reports a missing path only when reading; say so up front, by name.
    std::fs::symlink_metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut enc = nix_nar::Encoder::builder(path)
        .internal_buffer_size(ENCODER_BUFFER)
        .build()
        .map_err(|e| nar_err(io::Error::other(e)))?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match enc.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(nar_err(e)),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
        out.write_all(&buf[..n]).map_err(nar_err)?;
    }
    Ok(NarDigest {
        sha256: hasher.finalize().into(),
        size,
    })
}

/// Digest of `path`'s NAR without keeping the bytes.
pub fn nar_digest(path: &Path) -> Result<NarDigest, Error> {
    dump_nar(path, &mut io::sink())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::process::Command;

    /// A tree with every NAR case: nested dirs, an empty dir, executable and plain files,
    /// sizes on and off the 8-byte boundary, an empty file, relative and absolute symlinks,
    /// names that sort differently by bytes than by case.
    fn sample_tree(root: &Path) {
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("share/empty")).unwrap();
        std::fs::write(root.join("bin/tool"), "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(
            root.join("bin/tool"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::write(root.join("eight888"), "12345678").unwrap();
        std::fs::write(root.join("Zed"), "").unwrap();
        std::fs::write(root.join("a"), vec![7u8; 100_001]).unwrap();
        symlink("bin/tool", root.join("link")).unwrap();
        symlink("/nix/store/nowhere", root.join("abs-link")).unwrap();
    }

    fn nix_store_dump(path: &Path) -> Vec<u8> {
        let out = Command::new("nix-store")
            .arg("--dump")
            .arg(path)
            .output()
            .expect("nix-store must be installed for these tests (apt-get install nix-bin)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    #[test]
    fn nar_bytes_equal_nix_store_dump() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        sample_tree(&root);
        for path in [
            root.clone(),
            root.join("bin/tool"),
            root.join("Zed"),
            root.join("link"),
        ] {
            let mut ours = Vec::new();
            let digest = dump_nar(&path, &mut ours).unwrap();
            let theirs = nix_store_dump(&path);
            assert!(
                ours == theirs,
                "NAR of {} differs from nix-store --dump",
                path.display()
            );
            assert_eq!(digest.size, theirs.len() as u64);
            let sha: [u8; 32] = Sha256::digest(&theirs).into();
            assert_eq!(digest.sha256, sha);
        }
    }

    #[test]
    fn nar_of_missing_path_names_it() {
        let err = nar_digest(Path::new("/nonexistent/strata-nar")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/strata-nar"), "{err}");
    }
}
