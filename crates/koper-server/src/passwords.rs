//! Account passwords: Argon2id hashes in PHC strings, never the password.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use koper_db::Database;
use koper_types::UserName;

use crate::error::{Error, Result};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted: hashing is costly, so a megabyte "password"
/// must not reach Argon2.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Refuses passwords too short or too long to be hashed.
pub fn check_policy(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::bad_request(format!(
            "the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::bad_request(format!(
            "the password is too long: use at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The Argon2id hash of a password, with a fresh salt. Runs off the async
/// threads: hashing takes tens of milliseconds on purpose.
pub async fn hash(password: &str) -> Result<String> {
    check_policy(password)?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(Error::internal)
    })
    .await?
}

/// Whether `password` matches a stored hash. A hash that does not parse
/// matches nothing.
pub async fn verify(password: &str, stored: &str) -> Result<bool> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Ok(false);
    }
    let (password, stored) = (password.to_owned(), stored.to_owned());
    Ok(tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
    })
    .await?)
}

/// Sets a user's password; their browser sessions end.
pub async fn set_password(db: &Database, name: &UserName, password: &str) -> Result<()> {
    let user = db
        .find_user(name.as_str())
        .await?
        .ok_or_else(|| Error::NotFound(format!("user {name} does not exist")))?;
    let hash = hash(password).await?;
    db.set_password_hash(user.id, Some(&hash)).await?;
    db.delete_user_sessions(user.id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery").await.unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify("correct horse battery", &stored).await.unwrap());
        assert!(!verify("correct horse batterY", &stored).await.unwrap());
        assert!(!verify("correct horse battery", "not a hash").await.unwrap());
    }

    #[tokio::test]
    async fn short_and_huge_passwords_are_refused() {
        assert!(hash("short").await.is_err());
        assert!(hash(&"x".repeat(MAX_PASSWORD_BYTES + 1)).await.is_err());
        let stored = hash("long enough password").await.unwrap();
        assert!(
            !verify(&"x".repeat(MAX_PASSWORD_BYTES + 1), &stored)
                .await
                .unwrap()
        );
    }
}
