//! Signing keys for tests (`test-support` feature): three RSA key pairs
//! committed under `test-keys/`, so that no test process spends seconds making
//! 2048-bit keys, and every run signs with the same ones.
//!
//! They sign test tokens only: the private halves are public, so no
//! configuration may ever trust them.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

/// An RSA signing key of the tests, with its public halves as a provider
/// publishes them.
pub struct TestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    /// SubjectPublicKeyInfo PEM, what a careless verifier might use as an HMAC secret.
    pub public_pem: String,
    /// The public key as a JWKS entry (`kty`, `use`, `kid`, `n`, `e`).
    pub jwk: Value,
}

impl TestKey {
    /// The key `kid` from its committed files: the PKCS#1 private key, the
    /// public key and its JWK.
    fn load(kid: &str, private_pem: &str, public_pem: &str, jwk: &str) -> Self {
        let jwk: Value =
            serde_json::from_str(jwk).unwrap_or_else(|e| panic!("test key {kid}: bad JWK: {e}"));
        assert_eq!(jwk["kid"], kid, "test key {kid}: the JWK names another key");
        Self {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_rsa_der(&pem_body(private_pem)),
            public_pem: public_pem.to_owned(),
            jwk,
        }
    }

    /// A compact RS256 JWT with this key's `kid`.
    #[must_use]
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// Signed by this key but naming another key id.
    #[must_use]
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .unwrap_or_else(|e| panic!("cannot sign with test key {}: {e}", self.kid))
    }
}

/// The DER inside a PEM document (jsonwebtoken reads PEM only with a feature
/// askgate does not otherwise need).
fn pem_body(pem: &str) -> Vec<u8> {
    let base64: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD
        .decode(base64)
        .unwrap_or_else(|e| panic!("a test key is not PEM: {e}"))
}

macro_rules! test_key {
    ($kid:literal) => {
        LazyLock::new(|| {
            TestKey::load(
                $kid,
                include_str!(concat!("../test-keys/", $kid, ".pem")),
                include_str!(concat!("../test-keys/", $kid, ".pub.pem")),
                include_str!(concat!("../test-keys/", $kid, ".jwk.json")),
            )
        })
    };
}

/// The provider's published key.
pub static PUBLISHED: LazyLock<TestKey> = test_key!("key-2026-a");
/// A key the provider rotates to later.
pub static ROTATED: LazyLock<TestKey> = test_key!("key-2026-b");
/// A stranger's key, never published.
pub static STRANGER: LazyLock<TestKey> = test_key!("not-published");

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{DecodingKey, Validation};
    use serde_json::json;

    use super::*;

    /// Each key's JWK and public PEM verify what its private key signs, and
    /// only that.
    #[test]
    fn each_committed_key_pair_matches_its_published_halves() {
        let claims = json!({ "sub": "someone", "exp": 4_102_444_800_i64 });
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_aud = false;
        for key in [&*PUBLISHED, &*ROTATED, &*STRANGER] {
            let token = key.sign(&claims);
            let n = key.jwk["n"].as_str().unwrap();
            let e = key.jwk["e"].as_str().unwrap();
            let from_jwk = DecodingKey::from_rsa_components(n, e).unwrap();
            assert!(
                jsonwebtoken::decode::<Value>(&token, &from_jwk, &validation).is_ok(),
                "{}",
                key.kid
            );
            let other = if std::ptr::eq(key, &*PUBLISHED) {
                &*ROTATED
            } else {
                &*PUBLISHED
            };
            assert!(
                jsonwebtoken::decode::<Value>(&other.sign(&claims), &from_jwk, &validation)
                    .is_err(),
                "{}",
                key.kid
            );
            let modulus = URL_SAFE_NO_PAD.decode(n).unwrap();
            let public = pem_body(&key.public_pem);
            assert!(
                public.windows(modulus.len()).any(|w| w == modulus),
                "{}: the public PEM holds another modulus",
                key.kid
            );
        }
    }
}
