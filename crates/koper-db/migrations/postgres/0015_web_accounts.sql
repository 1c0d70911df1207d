-- Web accounts (postgres). Keep in step with the other migration set's
-- 0015_web_accounts.sql.

-- Argon2 PHC string of the user's password; NULL: no password sign-in
-- (API tokens only, or accounts from an identity provider).
ALTER TABLE users ADD COLUMN password_hash TEXT;

-- A name the user gives an API token on the token page.
ALTER TABLE api_tokens ADD COLUMN label TEXT NOT NULL DEFAULT '';

-- Signed-in browser sessions. Only the SHA-256 of the cookie's secret is
-- kept, so a leaked database does not sign anyone in.
CREATE TABLE web_sessions (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_on  BIGINT  NOT NULL,
    expires_on  BIGINT  NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
