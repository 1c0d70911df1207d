-- Signing in with an OpenID Connect provider (sqlite). Keep in step with the
-- other migration set's 0019_oidc.sql.

-- The provider accounts linked to local accounts: an account is found by
-- the provider's (issuer, subject), never by a name the provider sends.
CREATE TABLE oidc_identities (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    created_on  INTEGER NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX oidc_identities_user ON oidc_identities (user_id);

-- Sign-ins sent to the provider and not yet back: found by the SHA-256 of
-- their state (the browser holds the state in a cookie), used once.
CREATE TABLE oidc_logins (
    state_hash     TEXT    PRIMARY KEY,
    nonce          TEXT    NOT NULL,
    pkce_verifier  TEXT    NOT NULL,
    next_path      TEXT    NOT NULL,
    expires_on     INTEGER NOT NULL
);
