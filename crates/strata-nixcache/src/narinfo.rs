use std::fmt::Write as _;

use crate::{Error, PublicKey, SecretKey, StorePath};

/// One `.narinfo`: what a substituter tells Nix about a store path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarInfo {
    pub store_path: StorePath,
    /// Where the NAR file is, relative to the cache root (`nar/<filehash>.nar.zst`).
    pub url: String,
    /// `zstd`, `xz`, `bzip2` or `none`.
    pub compression: String,
    /// `sha256:<nix base-32>` of the (compressed) file.
    pub file_hash: Option<String>,
    pub file_size: Option<u64>,
    /// `sha256:<nix base-32>` of the uncompressed NAR.
    pub nar_hash: String,
    pub nar_size: u64,
    /// Base names (`<hash>-<name>`), sorted; a self-reference is listed too.
    pub references: Vec<String>,
    /// Base name of the `.drv`, when Nix knows it.
    pub deriver: Option<String>,
    /// `<key name>:<base64 signature>`
    pub sigs: Vec<String>,
}

impl NarInfo {
    /// What the signatures sign: `1;<store path>;<NarHash>;<NarSize>;<references, absolute,
    /// comma-separated>` (libstore's `ValidPathInfo::fingerprint`).
    pub fn fingerprint(&self) -> String {
        let dir = self.store_path.store_dir();
        let mut refs: Vec<String> = self
            .references
            .iter()
            .map(|r| format!("{dir}/{r}"))
            .collect();
        refs.sort();
        format!(
            "1;{};{};{};{}",
            self.store_path.absolute(),
            self.nar_hash,
            self.nar_size,
            refs.join(",")
        )
    }

    /// Add `key`'s signature (replacing an older one by the same key name).
    pub fn sign(&mut self, key: &SecretKey) {
        let prefix = format!("{}:", key.name());
        self.sigs.retain(|s| !s.starts_with(&prefix));
        self.sigs.push(key.sign(&self.fingerprint()));
    }

    /// Whether one of the signatures is valid for one of `keys` (Nix's `require-sigs` check).
    pub fn is_signed_by_any(&self, keys: &[PublicKey]) -> bool {
        let fp = self.fingerprint();
        self.sigs
            .iter()
            .any(|sig| keys.iter().any(|k| k.verify(&fp, sig)))
    }

    /// The text Nix reads, fields in the order Nix writes them.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(s, "StorePath: {}", self.store_path.absolute());
        let _ = writeln!(s, "URL: {}", self.url);
        let _ = writeln!(s, "Compression: {}", self.compression);
        if let Some(h) = &self.file_hash {
            let _ = writeln!(s, "FileHash: {h}");
        }
        if let Some(n) = self.file_size {
            let _ = writeln!(s, "FileSize: {n}");
        }
        let _ = writeln!(s, "NarHash: {}", self.nar_hash);
        let _ = writeln!(s, "NarSize: {}", self.nar_size);
        let _ = writeln!(s, "References: {}", self.references.join(" "));
        if let Some(d) = &self.deriver {
            let _ = writeln!(s, "Deriver: {d}");
        }
        for sig in &self.sigs {
            let _ = writeln!(s, "Sig: {sig}");
        }
        s
    }

    /// Parse a narinfo's text (unknown fields, such as `CA` or `System`, are ignored).
    pub fn parse(text: &str) -> Result<NarInfo, Error> {
        let bad = |reason: String| Error::BadNarInfo { reason };
        let mut store_path = None;
        let mut url = None;
        let mut compression = None;
        let mut file_hash = None;
        let mut file_size = None;
        let mut nar_hash = None;
        let mut nar_size = None;
        let mut references = Vec::new();
        let mut deriver = None;
        let mut sigs = Vec::new();
        let num = |field: &str, v: &str| {
            v.parse::<u64>()
                .map_err(|_| bad(format!("{field} `{v}` is not a number")))
        };
        for line in text.lines().filter(|l| !l.is_empty()) {
            let (field, value) = line
                .split_once(": ")
                .or_else(|| line.strip_suffix(':').map(|f| (f, "")))
                .ok_or_else(|| bad(format!("line `{line}` is not `Field: value`")))?;
            match field {
                "StorePath" => store_path = Some(StorePath::parse(value)?),
                "URL" => url = Some(value.to_string()),
                "Compression" => compression = Some(value.to_string()),
                "FileHash" => file_hash = Some(value.to_string()),
                "FileSize" => file_size = Some(num(field, value)?),
                "NarHash" => nar_hash = Some(value.to_string()),
                "NarSize" => nar_size = Some(num(field, value)?),
                "References" => {
                    references = value.split_whitespace().map(str::to_string).collect();
                }
                "Deriver" if value != "unknown-deriver" => deriver = Some(value.to_string()),
                "Sig" => sigs.push(value.to_string()),
                _ => {}
            }
        }
        let missing = |f: &str| bad(format!("the `{f}` field is missing"));
        let store_path = store_path.ok_or_else(|| missing("StorePath"))?;
        for r in &references {
            StorePath::from_base_name(store_path.store_dir(), r)?;
        }
        Ok(NarInfo {
            store_path,
            url: url.ok_or_else(|| missing("URL"))?,
            // Nix's default when the field is absent.
            compression: compression.unwrap_or_else(|| "bzip2".to_string()),
            file_hash,
            file_size,
            nar_hash: nar_hash.ok_or_else(|| missing("NarHash"))?,
            nar_size: nar_size.ok_or_else(|| missing("NarSize"))?,
            references,
            deriver,
            sigs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate_key_pair;

    const SAMPLE: &str = "StorePath: /nix/store/brpkgcr12qwqrw0yr3ns8qcf5g4897vy-strata-nc-app
URL: nar/0z93pv3dgzcpgg19nl1dhl527575jx7nfzaljigiw9i1ydnwcl2y.nar.zst
Compression: zstd
FileHash: sha256:0z93pv3dgzcpgg19nl1dhl527575jx7nfzaljigiw9i1ydnwcl2y
FileSize: 255
NarHash: sha256:1f59mqlw49k50qjly7p19f0k0sdvz625r7422wfajl9193cna222
NarSize: 752
References: hlsn1afj903vqwj20ijs3flww7l9gbm8-strata-nc-app-dev brpkgcr12qwqrw0yr3ns8qcf5g4897vy-strata-nc-app
Deriver: 3rkq1bzcih20b07dh7agn3ax4ivzn34f-strata-nc-app.drv
";

    #[test]
    fn text_round_trips_and_fingerprint_sorts_absolute_references() {
        let info = NarInfo::parse(SAMPLE).unwrap();
        assert_eq!(info.to_text(), SAMPLE);
        assert_eq!(
            info.fingerprint(),
            "1;/nix/store/brpkgcr12qwqrw0yr3ns8qcf5g4897vy-strata-nc-app;\
             sha256:1f59mqlw49k50qjly7p19f0k0sdvz625r7422wfajl9193cna222;752;\
             /nix/store/brpkgcr12qwqrw0yr3ns8qcf5g4897vy-strata-nc-app,\
             /nix/store/hlsn1afj903vqwj20ijs3flww7l9gbm8-strata-nc-app-dev"
        );
    }

    #[test]
    fn signatures_cover_the_fingerprint() {
        let (sk, pk) = generate_key_pair("t-1").unwrap();
        let (_, other) = generate_key_pair("t-2").unwrap();
        let mut info = NarInfo::parse(SAMPLE).unwrap();
        info.sign(&sk);
        info.sign(&sk);
        assert_eq!(info.sigs.len(), 1);
        let reparsed = NarInfo::parse(&info.to_text()).unwrap();
        assert!(reparsed.is_signed_by_any(std::slice::from_ref(&pk)));
        assert!(!reparsed.is_signed_by_any(&[other]));
        let mut tampered = reparsed.clone();
        tampered.references.pop();
        assert!(!tampered.is_signed_by_any(&[pk]));
    }

    #[test]
    fn bad_narinfo_says_what_is_wrong() {
        let err = NarInfo::parse("URL: x\n").unwrap_err().to_string();
        assert!(err.contains("StorePath"), "{err}");
        let err = NarInfo::parse(&SAMPLE.replace("NarSize: 752", "NarSize: lots"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("NarSize `lots`"), "{err}");
    }
}
