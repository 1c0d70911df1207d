-- Moderation by the instance's administrators (sqlite). Keep in step with
-- ../postgres/0020_moderation.sql. Each column holds the reason shown to
-- the owner; NULL: not moderated.

-- Left out of the directory, search, user pages and the home page.
ALTER TABLE projects ADD COLUMN hidden_reason TEXT;
-- Accepts no builds; its pages and repos are served only to those who
-- manage it.
ALTER TABLE projects ADD COLUMN disabled_reason TEXT;
-- Cannot sign in or use API tokens; their projects count as disabled.
ALTER TABLE users ADD COLUMN disabled_reason TEXT;
