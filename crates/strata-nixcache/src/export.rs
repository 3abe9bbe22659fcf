use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{
    Error, NarInfo, NixStore, PathInfo, SecretKey, SinkError, StorePath, dump_nar, nix_base32,
};

/// Key of the cache description at the cache root.
pub const CACHE_INFO_KEY: &str = "nix-cache-info";

/// Where binary cache objects go: a directory ([`DirSink`]), a remote store prefix, … Keys are
/// relative, `/`-separated: `nix-cache-info`, `<hash>.narinfo`, `nar/<filehash>.nar.zst`.
pub trait ObjectSink {
    fn exists(&self, key: &str) -> Result<bool, SinkError>;
    /// Store `bytes` under `key`, whole or not at all (readers may be substituting meanwhile).
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), SinkError>;
}

/// How NAR files are compressed. Nix 2.8 and later read zstd (checked by the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    Zstd,
    None,
}

impl Compression {
    /// The narinfo `Compression` value.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::None => "none",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Compression::Zstd => ".nar.zst",
            Compression::None => ".nar",
        }
    }

    /// `zstd` or `none`.
    pub fn parse(s: &str) -> Option<Compression> {
        match s {
            "zstd" => Some(Compression::Zstd),
            "none" => Some(Compression::None),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Also export everything the paths refer to, so a substituter can serve the whole
    /// closure (Nix needs every reference of a path, from this cache or another one).
    pub closure: bool,
    pub compression: Compression,
    /// `Priority` in `nix-cache-info`: lower is asked first (cache.nixos.org has 40).
    pub priority: u32,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            closure: false,
            compression: Compression::Zstd,
            priority: 30,
        }
    }
}

/// What [`export`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Paths whose narinfo was written, in the order written (references first).
    pub written: Vec<StorePath>,
    /// Paths whose narinfo the sink had already.
    pub skipped: Vec<StorePath>,
    /// NAR files and narinfos written, in bytes.
    pub bytes_written: u64,
}

/// The objects of one store path.
#[derive(Debug, Clone)]
pub struct PathObjects {
    pub narinfo_key: String,
    pub narinfo: NarInfo,
    pub nar_key: String,
    pub nar_file: Vec<u8>,
}

impl PathObjects {
    pub fn narinfo_bytes(&self) -> Vec<u8> {
        self.narinfo.to_text().into_bytes()
    }
}

/// The `nix-cache-info` object's bytes.
pub fn cache_info(store_dir: &str, priority: u32) -> Vec<u8> {
    format!("StoreDir: {store_dir}\nWantMassQuery: 1\nPriority: {priority}\n").into_bytes()
}

/// `<hash>.narinfo`, the key Nix asks for when it looks `path` up.
pub fn narinfo_key(path: &StorePath) -> String {
    format!("{}.narinfo", path.hash_part())
}

/// Serialize, compress, describe and sign one store path (read from the filesystem at its
/// absolute path). The NAR file is named by its own hash, so equal contents share one file.
pub fn path_objects(
    path: &StorePath,
    info: &PathInfo,
    compression: Compression,
    key: Option<&SecretKey>,
) -> Result<PathObjects, Error> {
    let abs = path.absolute();
    let compress_err = |source: std::io::Error| Error::Compress {
        path: abs.clone(),
        source,
    };
    let (digest, nar_file) = match compression {
        Compression::None => {
            let mut buf = Vec::new();
            let d = dump_nar(Path::new(&abs), &mut buf)?;
            (d, buf)
        }
        Compression::Zstd => {
            let mut enc = zstd::Encoder::new(Vec::new(), 3).map_err(compress_err)?;
            let d = dump_nar(Path::new(&abs), &mut enc)?;
            (d, enc.finish().map_err(compress_err)?)
        }
    };
    let file_hash = nix_base32(&Sha256::digest(&nar_file));
    let nar_key = format!("nar/{file_hash}{}", compression.extension());
    let mut references: Vec<String> = info
        .references
        .iter()
        .map(|r| r.base_name().to_string())
        .collect();
    references.sort();
    let mut narinfo = NarInfo {
        store_path: path.clone(),
        url: nar_key.clone(),
        compression: compression.name().to_string(),
        file_hash: Some(format!("sha256:{file_hash}")),
        file_size: Some(nar_file.len() as u64),
        nar_hash: digest.nix_hash(),
        nar_size: digest.size,
        references,
        deriver: info.deriver.as_ref().map(|d| d.base_name().to_string()),
        sigs: Vec::new(),
    };
    if let Some(k) = key {
        narinfo.sign(k);
    }
    Ok(PathObjects {
        narinfo_key: narinfo_key(path),
        narinfo,
        nar_key,
        nar_file,
    })
}

/// Export `paths` (and their closure with `opts.closure`) as a binary cache into `sink`.
///
/// A path whose narinfo the sink already has is skipped without being read. For each path the
/// NAR file goes first and the narinfo last, references before the paths that need them, and
/// `nix-cache-info` at the end, so a reader never sees a narinfo that points at nothing. A NAR
/// whose hash differs from the one Nix recorded (a store path modified on disk) is an error:
/// Nix would reject it on download.
pub fn export(
    store: &NixStore,
    paths: &[StorePath],
    opts: &ExportOptions,
    key: Option<&SecretKey>,
    sink: &dyn ObjectSink,
) -> Result<ExportReport, Error> {
    let Some(first) = paths.first() else {
        return Ok(ExportReport::default());
    };
    let store_dir = first.store_dir().to_string();
    if let Some(other) = paths.iter().find(|p| p.store_dir() != store_dir) {
        return Err(Error::MixedStoreDirs {
            first: store_dir,
            other: other.store_dir().to_string(),
        });
    }
    let todo: Vec<(StorePath, PathInfo)> = if opts.closure {
        store.closure(paths)?
    } else {
        let mut seen = std::collections::BTreeSet::new();
        paths
            .iter()
            .filter(|p| seen.insert((*p).clone()))
            .map(|p| Ok((p.clone(), store.path_info(p)?)))
            .collect::<Result<_, Error>>()?
    };
    let sink_err = |key: &str| {
        let key = key.to_string();
        move |source| Error::Sink { key, source }
    };
    let mut report = ExportReport::default();
    for (path, info) in todo {
        let ni_key = narinfo_key(&path);
        if sink.exists(&ni_key).map_err(sink_err(&ni_key))? {
            report.skipped.push(path);
            continue;
        }
        let objects = path_objects(&path, &info, opts.compression, key)?;
        let recorded = store.nar_hash(&path)?;
        if recorded != objects.narinfo.nar_hash {
            return Err(Error::NixStoreFailed {
                command: format!("nix-store --query --hash {path}"),
                status: format!(
                    "Nix recorded {recorded} but the files on disk hash to {}",
                    objects.narinfo.nar_hash
                ),
                stderr: format!(
                    "the store path was modified; check it with `nix-store --verify-path {path}`"
                ),
            });
        }
        if !sink
            .exists(&objects.nar_key)
            .map_err(sink_err(&objects.nar_key))?
        {
            sink.put(&objects.nar_key, &objects.nar_file)
                .map_err(sink_err(&objects.nar_key))?;
            report.bytes_written += objects.nar_file.len() as u64;
        }
        let text = objects.narinfo_bytes();
        sink.put(&objects.narinfo_key, &text)
            .map_err(sink_err(&objects.narinfo_key))?;
        report.bytes_written += text.len() as u64;
        report.written.push(path);
    }
    if !sink
        .exists(CACHE_INFO_KEY)
        .map_err(sink_err(CACHE_INFO_KEY))?
    {
        sink.put(CACHE_INFO_KEY, &cache_info(&store_dir, opts.priority))
            .map_err(sink_err(CACHE_INFO_KEY))?;
    }
    Ok(report)
}

/// A binary cache in a local directory: a `file://` substituter, or files to serve over HTTP.
#[derive(Debug, Clone)]
pub struct DirSink {
    root: PathBuf,
}

impl DirSink {
    /// `root` and its subdirectories are created by the first `put`, so a push that fails
    /// before writing anything leaves nothing behind.
    pub fn new(root: impl Into<PathBuf>) -> DirSink {
        DirSink { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, SinkError> {
        if key.is_empty()
            || key.starts_with('/')
            || key
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(format!("`{key}` is not a relative object key").into());
        }
        Ok(self.root.join(key))
    }
}

impl ObjectSink for DirSink {
    fn exists(&self, key: &str) -> Result<bool, SinkError> {
        Ok(self.path_of(key)?.try_exists()?)
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), SinkError> {
        let path = self.path_of(key)?;
        // A reader never sees half an object; served files must be readable by the web server
        // and by nix-daemon users, whatever the umask.
        strata_fs::AtomicWrite::new()
            .mode(0o644)
            .durable()
            .write(&path, bytes)?;
        Ok(())
    }
}
