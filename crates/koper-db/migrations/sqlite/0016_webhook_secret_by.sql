-- Who made a project's webhook secret (sqlite; keep in step with
-- ../postgres/0016_webhook_secret_by.sql): pushes build as that user, so
-- group projects, which have no owner user, can be built by webhook.
-- NULL for secrets made before (their pushes build as the owner, when the
-- owner is a user).
ALTER TABLE projects ADD COLUMN webhook_secret_by INTEGER REFERENCES users (id);
