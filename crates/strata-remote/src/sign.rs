//! ed25519 signatures over manifest ids.
//!
//! Keys are written as Nix writes binary cache keys (`nix-store --generate-binary-cache-key`):
//! `<name>:<base64>`, 64 bytes (seed + public key) for a secret key and 32 for a public key, so
//! one team key can sign both strata layers and a Nix binary cache. A signature is
//! `<name>:<base64 of 64 bytes>` over `strata-manifest-v1:<manifest id hex>`; the manifest id is
//! the BLAKE3 of the manifest's JSON, which names every blob by its BLAKE3, so the signature
//! covers every byte of the layer.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use strata_store::ObjectId;

use crate::RemoteError;

const DOMAIN: &str = "strata-manifest-v1:";

fn message(id: &ObjectId) -> Vec<u8> {
    format!("{DOMAIN}{}", id.to_hex()).into_bytes()
}

fn bad_key(input: &str, reason: impl Into<String>) -> RemoteError {
    let shown: String = input.chars().take(60).collect();
    RemoteError::BadKey {
        input: shown,
        reason: reason.into(),
    }
}

/// `NAME:BASE64` → name and bytes; errors show `shown` for the input (never a secret key's text).
fn split<'a>(input: &'a str, shown: &str) -> Result<(&'a str, Vec<u8>), RemoteError> {
    let (name, b64) = input
        .trim()
        .split_once(':')
        .ok_or_else(|| bad_key(shown, "expected NAME:BASE64"))?;
    if name.is_empty() {
        return Err(bad_key(shown, "empty key name"));
    }
    let bytes = B64
        .decode(b64.trim())
        .map_err(|e| bad_key(shown, format!("not base64: {e}")))?;
    Ok((name, bytes))
}

/// A secret key that signs pushed manifests.
#[derive(Clone)]
pub struct SecretKey {
    pub name: String,
    key: SigningKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.name)
    }
}

/// A public key whose signatures are trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub name: String,
    key: VerifyingKey,
}

impl SecretKey {
    /// A new random key named `name`.
    pub fn generate(name: &str) -> Result<SecretKey, RemoteError> {
        if name.is_empty() || name.contains(':') || name.contains(char::is_whitespace) {
            return Err(bad_key(
                name,
                "a key name must be non-empty, without ':' or spaces",
            ));
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| bad_key(name, format!("no randomness from the OS: {e}")))?;
        Ok(SecretKey {
            name: name.to_string(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    pub fn parse(input: &str) -> Result<SecretKey, RemoteError> {
        // The text is the secret: an error must not echo it.
        let (name, bytes) = split(input, "(secret key)")?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|b: Vec<u8>| {
            bad_key(
                "(secret key)",
                format!(
                    "a secret key has 64 bytes, this one {} (is it a public key?)",
                    b.len()
                ),
            )
        })?;
        let key = SigningKey::from_keypair_bytes(&bytes)
            .map_err(|e| bad_key("(secret key)", format!("inconsistent key pair: {e}")))?;
        Ok(SecretKey {
            name: name.to_string(),
            key,
        })
    }

    pub fn to_text(&self) -> String {
        format!("{}:{}", self.name, B64.encode(self.key.to_keypair_bytes()))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// `<name>:<base64 signature>` of manifest `id`.
    pub fn sign(&self, id: &ObjectId) -> String {
        let sig = self.key.sign(&message(id));
        format!("{}:{}", self.name, B64.encode(sig.to_bytes()))
    }
}

impl PublicKey {
    pub fn parse(input: &str) -> Result<PublicKey, RemoteError> {
        let (name, bytes) = split(input, input)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            bad_key(
                input,
                format!("a public key has 32 bytes, this one {}", b.len()),
            )
        })?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|e| bad_key(input, format!("not an ed25519 public key: {e}")))?;
        Ok(PublicKey {
            name: name.to_string(),
            key,
        })
    }

    pub fn to_text(&self) -> String {
        format!("{}:{}", self.name, B64.encode(self.key.to_bytes()))
    }
}

/// Why a signature file did not verify, for the error message.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Trusted(String),
    /// No signature at all.
    Unsigned,
    /// Signed, but by no trusted key name.
    UnknownSigner(Vec<String>),
    /// A trusted key name, but the signature does not verify.
    BadSignature(String),
}

/// Check `sigs` (one `<name>:<base64>` a line) for manifest `id` against `trusted`.
pub fn verify(sigs: &str, id: &ObjectId, trusted: &[PublicKey]) -> Verdict {
    let msg = message(id);
    let mut unknown = Vec::new();
    let mut bad = None;
    for line in sigs.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((name, b64)) = line.split_once(':') else {
            continue;
        };
        let keys: Vec<&PublicKey> = trusted.iter().filter(|k| k.name == name).collect();
        if keys.is_empty() {
            unknown.push(name.to_string());
            continue;
        }
        let Ok(sig) = B64
            .decode(b64)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .map(|b| Signature::from_bytes(&b))
            .ok_or(())
        else {
            bad = Some(name.to_string());
            continue;
        };
        if keys.iter().any(|k| k.key.verify(&msg, &sig).is_ok()) {
            return Verdict::Trusted(name.to_string());
        }
        bad = Some(name.to_string());
    }
    match (bad, unknown.is_empty()) {
        (Some(name), _) => Verdict::BadSignature(name),
        (None, false) => Verdict::UnknownSigner(unknown),
        (None, true) => Verdict::Unsigned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_reject() {
        let k = SecretKey::generate("team-1").unwrap();
        let k2 = SecretKey::parse(&k.to_text()).unwrap();
        let pk = PublicKey::parse(&k.public().to_text()).unwrap();
        let id = ObjectId::of_bytes(b"manifest");
        let sig = k2.sign(&id);
        assert_eq!(
            verify(&sig, &id, std::slice::from_ref(&pk)),
            Verdict::Trusted("team-1".into())
        );
        // Another manifest: the signature does not carry over.
        let other = ObjectId::of_bytes(b"other");
        assert_eq!(
            verify(&sig, &other, std::slice::from_ref(&pk)),
            Verdict::BadSignature("team-1".into())
        );
        // A forger using the trusted name with its own key.
        let forger = SecretKey::generate("team-1").unwrap();
        assert_eq!(
            verify(&forger.sign(&id), &id, std::slice::from_ref(&pk)),
            Verdict::BadSignature("team-1".into())
        );
        let stranger = SecretKey::generate("stranger").unwrap();
        assert_eq!(
            verify(&stranger.sign(&id), &id, std::slice::from_ref(&pk)),
            Verdict::UnknownSigner(vec!["stranger".into()])
        );
        assert_eq!(verify("", &id, &[pk]), Verdict::Unsigned);
    }

    #[test]
    fn bad_keys_are_named() {
        let k = SecretKey::generate("a").unwrap();
        assert!(
            SecretKey::parse(&k.public().to_text())
                .unwrap_err()
                .to_string()
                .contains("public key")
        );
        assert!(
            PublicKey::parse("nocolon")
                .unwrap_err()
                .to_string()
                .contains("NAME:BASE64")
        );
        assert!(SecretKey::generate("a b").is_err());
    }

    /// Found by the property tests (src/fuzz.rs): a damaged secret key file (cut short, say)
    /// was quoted in the error, up to 60 characters of it: most of the key's seed.
    #[test]
    fn bad_secret_keys_are_not_shown() {
        let text = SecretKey::generate("ci").unwrap().to_text();
        for damaged in [&text[..text.len() - 3], &text.replace(':', "")] {
            let e = SecretKey::parse(damaged).unwrap_err().to_string();
            assert!(!e.contains(&text[3..20]), "{e}");
        }
    }
}
