use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::StoreError;

/// BLAKE3 digest identifying a blob (of its uncompressed content) or a
/// manifest (of its JSON bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(pub(crate) [u8; 32]);

const HEX: &[u8; 16] = b"0123456789abcdef";

impl ObjectId {
    pub fn of_bytes(b: &[u8]) -> Self {
        ObjectId(*blake3::hash(b).as_bytes())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ObjectId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 0xf) as usize] as char);
        }
        s
    }

    /// Accepts exactly 64 lowercase hex digits: ids double as file names, so
    /// one canonical spelling keeps lookups and on-disk names in agreement.
    pub fn from_hex(s: &str) -> Result<Self, StoreError> {
        let bad = |reason: &str| StoreError::BadObjectId {
            input: s.chars().take(80).collect(),
            reason: reason.to_string(),
        };
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(bad("expected 64 hex digits"));
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            match (digit(pair[0]), digit(pair[1])) {
                (Some(h), Some(l)) => out[i] = (h << 4) | l,
                _ => return Err(bad("expected only lowercase hex digits 0-9a-f")),
            }
        }
        Ok(ObjectId(out))
    }
}

impl From<blake3::Hash> for ObjectId {
    fn from(h: blake3::Hash) -> Self {
        ObjectId(*h.as_bytes())
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.to_hex())
    }
}

impl FromStr for ObjectId {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ObjectId::from_hex(s)
    }
}

impl Serialize for ObjectId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ObjectId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 64-digit lowercase hex object id")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ObjectId, E> {
                ObjectId::from_hex(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = ObjectId::of_bytes(b"hello");
        assert_eq!(id.to_hex(), blake3::hash(b"hello").to_hex().as_str());
        assert_eq!(ObjectId::from_hex(&id.to_hex()).unwrap(), id);
        assert_eq!(id.to_string().parse::<ObjectId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.to_hex()));
        assert_eq!(serde_json::from_str::<ObjectId>(&json).unwrap(), id);
    }

    #[test]
    fn rejects_bad_hex() {
        assert!(ObjectId::from_hex("").is_err());
        assert!(ObjectId::from_hex(&"A".repeat(64)).is_err());
        assert!(ObjectId::from_hex(&"g".repeat(64)).is_err());
        assert!(ObjectId::from_hex(&"a".repeat(63)).is_err());
        assert!(ObjectId::from_hex(&"é".repeat(32)).is_err());
        assert!(serde_json::from_str::<ObjectId>("\"zz\"").is_err());
    }
}
