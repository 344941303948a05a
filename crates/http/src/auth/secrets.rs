//! Secrets askgate hands out once and keeps only hashed: personal API keys
//! (`agk_…`) and the secrets of registered apps.

use askgate_domain::ports::{MintedSecret, SecretMinter};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 256 random bits from the operating system's generator, URL-safe base64
/// after the prefix; SHA-256 (lowercase hex) as the stored hash. A hash
/// lookup compares no secret byte by byte, so it leaks no timing.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSecrets;

impl SecretMinter for RandomSecrets {
    fn mint(&self, prefix: &str) -> MintedSecret {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
        let hash = self.hash(&secret);
        MintedSecret::new(secret, hash)
    }

    fn hash(&self, presented: &str) -> String {
        hex::encode(Sha256::digest(presented.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_secret_has_its_prefix_256_bits_and_its_hash() {
        let minted = RandomSecrets.mint("agk_");
        let body = minted.expose().strip_prefix("agk_").unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
        assert_eq!(RandomSecrets.hash(minted.expose()), minted.hash());
        assert_ne!(RandomSecrets.mint("agk_").expose(), minted.expose());
    }
}
