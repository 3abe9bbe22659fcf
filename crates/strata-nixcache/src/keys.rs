//! Nix binary-cache keys: `<name>:<base64>`, the secret being libsodium's 64 bytes
//! (seed ‖ public key) and the public 32 bytes, as `nix-store --generate-binary-cache-key`
//! writes them.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

use crate::Error;

#[derive(Clone)]
pub struct SecretKey {
    name: String,
    key: SigningKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    name: String,
    key: VerifyingKey,
}

impl fmt::Debug for SecretKey {
    // Never print the key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A fresh key pair named `name` (e.g. `cache.example.org-1`).
pub fn generate_key_pair(name: &str) -> Result<(SecretKey, PublicKey), Error> {
    check_name(name, "name")?;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::BadKey {
        what: name.to_string(),
        reason: format!("the system random number generator failed: {e}"),
    })?;
    let secret = SecretKey {
        name: name.to_string(),
        key: SigningKey::from_bytes(&seed),
    };
    let public = secret.public();
    Ok((secret, public))
}

fn check_name(name: &str, what: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains(':') || name.chars().any(char::is_whitespace) {
        return Err(Error::BadKey {
            what: what.to_string(),
            reason: format!("key name `{name}` must be non-empty, without `:` or spaces"),
        });
    }
    Ok(())
}

fn split<'a>(text: &'a str, what: &str) -> Result<(&'a str, Vec<u8>), Error> {
    let bad = |reason: String| Error::BadKey {
        what: what.to_string(),
        reason,
    };
    let (name, b64) = text
        .trim()
        .split_once(':')
        .ok_or_else(|| bad("expected `<name>:<base64 key>`".into()))?;
    check_name(name, what)?;
    let bytes = B64
        .decode(b64)
        .map_err(|e| bad(format!("the key is not valid base64 ({e})")))?;
    Ok((name, bytes))
}

fn read_key_file(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl SecretKey {
    /// Parse `<name>:<base64 of 64 bytes>`; `what` names the source in errors.
    pub fn parse(text: &str, what: &str) -> Result<SecretKey, Error> {
        let (name, bytes) = split(text, what)?;
        let bad = |reason: &str| Error::BadKey {
            what: what.to_string(),
            reason: reason.to_string(),
        };
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| {
            bad("a secret key has 64 bytes (is this the public key? Nix wants the secret one here)")
        })?;
        let key = SigningKey::from_keypair_bytes(&bytes)
            .map_err(|_| bad("its public half does not match its seed"))?;
        Ok(SecretKey {
            name: name.to_string(),
            key,
        })
    }

    pub fn from_file(path: &Path) -> Result<SecretKey, Error> {
        SecretKey::parse(&read_key_file(path)?, &path.display().to_string())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The Nix text form, `<name>:<base64 of seed ‖ public key>`.
    pub fn to_nix_string(&self) -> String {
        format!("{}:{}", self.name, B64.encode(self.key.to_keypair_bytes()))
    }

    /// `<name>:<base64 signature>` of `message` (a narinfo fingerprint).
    pub fn sign(&self, message: &str) -> String {
        let sig = self.key.sign(message.as_bytes());
        format!("{}:{}", self.name, B64.encode(sig.to_bytes()))
    }
}

impl PublicKey {
    /// Parse `<name>:<base64 of 32 bytes>` (a `trusted-public-keys` entry).
    pub fn parse(text: &str, what: &str) -> Result<PublicKey, Error> {
        let (name, bytes) = split(text, what)?;
        let bad = |reason: &str| Error::BadKey {
            what: what.to_string(),
            reason: reason.to_string(),
        };
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| bad("a public key has 32 bytes"))?;
        let key =
            VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not a valid ed25519 public key"))?;
        Ok(PublicKey {
            name: name.to_string(),
            key,
        })
    }

    pub fn from_file(path: &Path) -> Result<PublicKey, Error> {
        PublicKey::parse(&read_key_file(path)?, &path.display().to_string())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn to_nix_string(&self) -> String {
        format!("{}:{}", self.name, B64.encode(self.key.as_bytes()))
    }

    /// Whether `sig` (`<name>:<base64>`) is this key's valid signature of `message`.
    /// A signature by another key name is not this key's, whatever its bytes.
    pub fn verify(&self, message: &str, sig: &str) -> bool {
        let Some((name, b64)) = sig.split_once(':') else {
            return false;
        };
        if name != self.name {
            return false;
        }
        let Ok(bytes) = B64.decode(b64) else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(&bytes) else {
            return false;
        };
        self.key.verify(message.as_bytes(), &sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn generated_keys_round_trip_and_sign() {
        let (sk, pk) = generate_key_pair("test.example-1").unwrap();
        let sk2 = SecretKey::parse(&sk.to_nix_string(), "sk").unwrap();
        let pk2 = PublicKey::parse(&pk.to_nix_string(), "pk").unwrap();
        assert_eq!(pk2, sk2.public());
        let sig = sk.sign("1;/nix/store/x;sha256:y;1;");
        assert!(pk.verify("1;/nix/store/x;sha256:y;1;", &sig));
        assert!(!pk.verify("1;/nix/store/x;sha256:y;2;", &sig));
        let (_, other) = generate_key_pair("test.example-1").unwrap();
        assert!(!other.verify("1;/nix/store/x;sha256:y;1;", &sig));
        assert!(generate_key_pair("bad:name").is_err());
    }

    #[test]
    fn reads_keys_made_by_nix_and_refuses_swapped_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (sk_path, pk_path) = (dir.path().join("sk"), dir.path().join("pk"));
        let st = Command::new("nix-store")
            .arg("--generate-binary-cache-key")
            .arg("nixmade-1")
            .args([&sk_path, &pk_path])
            .status()
            .expect("nix-store must be installed for these tests (apt-get install nix-bin)");
        assert!(st.success());
        let sk = SecretKey::from_file(&sk_path).unwrap();
        let pk = PublicKey::from_file(&pk_path).unwrap();
        assert_eq!(sk.public(), pk);
        assert_eq!(sk.name(), "nixmade-1");
        assert_eq!(
            sk.to_nix_string(),
            std::fs::read_to_string(&sk_path).unwrap().trim()
        );
        let err = SecretKey::from_file(&pk_path).unwrap_err().to_string();
        assert!(err.contains("64 bytes") && err.contains("pk"), "{err}");
        let err = PublicKey::parse("nokey", "arg").unwrap_err().to_string();
        assert!(err.contains("<name>:<base64 key>"), "{err}");
    }
}
