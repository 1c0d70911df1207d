//! Project keys: generation, expiry renewal, armored import and export,
//! detached signatures.

use std::path::Path;
use std::time::Duration;

use pgp::composed::{
    ArmorOptions, Deserializable, DetachedSignature, KeyType, SecretKeyParamsBuilder,
    SignedPublicKey, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{
    KeyFlags, PacketTrait, SignatureConfig, SignatureType, Subpacket, SubpacketData,
};
use pgp::types::{KeyDetails, Password, Timestamp};

use crate::{KeyAlgorithm, KeyIdentity, Result, SignError};

fn key_err(e: impl std::fmt::Display) -> SignError {
    SignError::Key(e.to_string())
}

fn sign_err(e: impl std::fmt::Display) -> SignError {
    SignError::Sign(e.to_string())
}

/// OpenPGP timestamps are 32-bit; koper's times are i64 seconds.
fn timestamp(secs: i64) -> Result<Timestamp> {
    u32::try_from(secs)
        .map(Timestamp::from_secs)
        .map_err(|_| SignError::Sign(format!("time {secs} does not fit an OpenPGP timestamp")))
}

/// A project's secret key, able to sign packages and metadata.
#[derive(Clone)]
pub struct SigningKey {
    secret: SignedSecretKey,
    /// The same key as the `rpm` crate's signer, prepared once.
    rpm_signer: rpm::signature::pgp::Signer,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl SigningKey {
    /// Generates a key for `identity`, created at `created` (Unix seconds)
    /// and valid for `lifetime` from then. The primary key both certifies
    /// and signs (no subkeys), as Copr's keys do, so that every rpm version
    /// finds the signing key.
    pub fn generate(
        identity: &KeyIdentity,
        algorithm: KeyAlgorithm,
        created: i64,
        lifetime: Duration,
    ) -> Result<Self> {
        let key_type = match algorithm {
            KeyAlgorithm::Rsa4096 => KeyType::Rsa(4096),
            // The v4 EdDSA encoding: rpm 4.18's parser and gpg 2.2 know it;
            // the RFC 9580 Ed25519 algorithm is too new for both.
            KeyAlgorithm::Ed25519 => KeyType::Ed25519Legacy,
        };
        let params = SecretKeyParamsBuilder::default()
            .key_type(key_type)
            .can_certify(true)
            .can_sign(true)
            .created_at(timestamp(created)?)
            .primary_user_id(identity.user_id())
            .build()
            .map_err(sign_err)?;
        let mut secret = params.generate(rand::thread_rng()).map_err(sign_err)?;
        // rPGP's builder cannot set an expiry; the self-signature is made
        // again with one.
        self_certify(&mut secret, created, lifetime)?;
        Self::from_secret(secret)
    }

    fn from_secret(secret: SignedSecretKey) -> Result<Self> {
        secret.verify_bindings().map_err(key_err)?;
        let rpm_signer =
            rpm::signature::pgp::Signer::new(secret.primary_key.clone()).map_err(key_err)?;
        Ok(Self { secret, rpm_signer })
    }

    /// Reads an ASCII-armored secret key (as [`SigningKey::to_armored`]
    /// writes it).
    pub fn from_armored(text: &str) -> Result<Self> {
        let (secret, _) = SignedSecretKey::from_string(text).map_err(key_err)?;
        Self::from_secret(secret)
    }

    /// Reads an armored secret key file.
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_armored(&std::fs::read_to_string(path)?)
    }

    /// The secret key, ASCII-armored (unprotected: the file holding it must
    /// be readable only by the signing side).
    pub fn to_armored(&self) -> Result<String> {
        self.secret
            .to_armored_string(ArmorOptions::default())
            .map_err(sign_err)
    }

    /// The public half, as published in `pubkey.gpg`.
    pub fn public_key(&self) -> Result<crate::PublicKey> {
        crate::PublicKey::from_signed(self.secret.to_public_key())
    }

    /// The key's fingerprint, upper-case hex.
    pub fn fingerprint(&self) -> String {
        format!("{:X}", self.secret.primary_key.fingerprint())
    }

    /// When the key was created, Unix seconds.
    pub fn created_on(&self) -> i64 {
        i64::from(self.secret.primary_key.created_at().as_secs())
    }

    /// When the key expires, Unix seconds (`None`: never).
    pub fn expires_on(&self) -> Option<i64> {
        expiry_of(&self.secret.details.users, self.created_on())
    }

    /// Whether the key expires within `margin` of `now` (or has expired).
    pub fn needs_renewal(&self, now: i64, margin: Duration) -> bool {
        self.expires_on()
            .is_some_and(|expiry| expiry - now <= i64::try_from(margin.as_secs()).unwrap_or(0))
    }

    /// Extends the key's validity to `lifetime` from `now` with a new
    /// self-signature. The key material and fingerprint do not change, so
    /// every signature made with the key stays valid.
    pub fn renew(&mut self, now: i64, lifetime: Duration) -> Result<()> {
        let mut secret = self.secret.clone();
        self_certify(&mut secret, now, lifetime)?;
        *self = Self::from_secret(secret)?;
        Ok(())
    }

    /// An ASCII-armored detached signature of `data` (binary, SHA-256), as
    /// `repomd.xml.asc` holds it.
    pub fn sign_detached(&self, data: &[u8]) -> Result<String> {
        let signature = DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            &self.secret.primary_key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            data,
        )
        .map_err(sign_err)?;
        signature
            .to_armored_string(ArmorOptions::default())
            .map_err(sign_err)
    }

    /// Signs the RPM at `path` (a v4 header signature), replacing every
    /// signature it carried. See [`crate::rpmsig`].
    pub fn sign_rpm(&self, path: &Path) -> Result<()> {
        crate::rpmsig::sign_rpm(&self.rpm_signer, path)
    }

    /// The `rpm` crate's signer for this key (to sign a package being
    /// built with `rpm::PackageBuilder::build_and_sign`).
    pub fn rpm_signer(&self) -> &rpm::signature::pgp::Signer {
        &self.rpm_signer
    }
}

/// The expiry that the newest self-signature of the first user id gives.
fn expiry_of(users: &[pgp::types::SignedUser], created: i64) -> Option<i64> {
    let newest = users
        .first()?
        .signatures
        .iter()
        .max_by_key(|s| s.created().map(Timestamp::as_secs))?;
    newest
        .key_expiration_time()
        .map(|d| created + i64::from(d.as_secs()))
}

/// Replaces the self-signature of the key's user id with one made at
/// `now`, giving the key flags (certify, sign) and an expiry `lifetime`
/// after `now`.
fn self_certify(secret: &mut SignedSecretKey, now: i64, lifetime: Duration) -> Result<()> {
    let key = &secret.primary_key;
    let created = i64::from(key.created_at().as_secs());
    // The expiry is stored relative to the key's creation.
    let expiry = now
        .checked_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX))
        .ok_or_else(|| SignError::Sign("key lifetime too long".into()))?;
    let relative = u32::try_from(expiry - created)
        .map_err(|_| SignError::Sign("key expiry out of range".into()))?;
    let mut flags = KeyFlags::default();
    flags.set_certify(true);
    flags.set_sign(true);
    let user = secret
        .details
        .users
        .first()
        .ok_or_else(|| SignError::Key("the key has no user id".into()))?
        .id
        .clone();
    let mut config =
        SignatureConfig::from_key(rand::thread_rng(), key, SignatureType::CertPositive)
            .map_err(sign_err)?;
    config.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(timestamp(
            now.max(created),
        )?))
        .map_err(sign_err)?,
        Subpacket::regular(SubpacketData::IssuerFingerprint(key.fingerprint()))
            .map_err(sign_err)?,
        Subpacket::regular(SubpacketData::KeyFlags(flags)).map_err(sign_err)?,
        Subpacket::regular(SubpacketData::KeyExpirationTime(
            pgp::types::Duration::from_secs(relative),
        ))
        .map_err(sign_err)?,
        Subpacket::regular(SubpacketData::IsPrimary(true)).map_err(sign_err)?,
    ];
    config.unhashed_subpackets = vec![
        Subpacket::regular(SubpacketData::IssuerKeyId(key.legacy_key_id())).map_err(sign_err)?,
    ];
    let signature = config
        .sign_certification(key, key.public_key(), &Password::empty(), user.tag(), &user)
        .map_err(sign_err)?;
    if let Some(signed_user) = secret.details.users.first_mut() {
        signed_user.signatures = vec![signature];
    }
    Ok(())
}

/// A published project key: verifies package and metadata signatures.
#[derive(Debug, Clone)]
pub struct PublicKey {
    key: SignedPublicKey,
    armored: String,
}

impl PublicKey {
    fn from_signed(key: SignedPublicKey) -> Result<Self> {
        let armored = key
            .to_armored_string(ArmorOptions::default())
            .map_err(sign_err)?;
        Ok(Self { key, armored })
    }

    /// Reads an ASCII-armored public key (`pubkey.gpg`).
    pub fn from_armored(text: &str) -> Result<Self> {
        let (key, _) = SignedPublicKey::from_string(text).map_err(key_err)?;
        key.verify_bindings().map_err(key_err)?;
        Ok(Self {
            key,
            armored: text.to_owned(),
        })
    }

    /// The key, ASCII-armored.
    pub fn armored(&self) -> &str {
        &self.armored
    }

    /// The key's fingerprint, upper-case hex.
    pub fn fingerprint(&self) -> String {
        format!("{:X}", self.key.primary_key.fingerprint())
    }

    /// When the key expires, Unix seconds (`None`: never).
    pub fn expires_on(&self) -> Option<i64> {
        expiry_of(
            &self.key.details.users,
            i64::from(self.key.primary_key.created_at().as_secs()),
        )
    }

    /// Checks an armored detached signature of `data` made by this key.
    pub fn verify_detached(&self, data: &[u8], signature: &str) -> Result<()> {
        let (signature, _) = DetachedSignature::from_string(signature)
            .map_err(|e| SignError::BadSignature(format!("unreadable signature: {e}")))?;
        signature
            .verify(&self.key.primary_key, data)
            .map_err(|e| SignError::BadSignature(e.to_string()))
    }

    /// Checks the header signature of the RPM at `path` (and the header
    /// digests). The payload is covered through the header's payload
    /// digest; check that separately (`koper_rpm::inspect_package`).
    pub fn verify_rpm(&self, path: &Path) -> Result<()> {
        crate::rpmsig::verify_rpm(&self.armored, path)
    }
}
