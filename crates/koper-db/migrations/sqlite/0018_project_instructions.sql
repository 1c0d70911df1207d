-- Project instructions (sqlite). Keep in step with the other migration set's
-- 0018_project_instructions.sql.

-- How to use the project's packages, in the owner's words (Copr's
-- "instructions"); shown as plain text on the project page.
ALTER TABLE projects ADD COLUMN instructions TEXT NOT NULL DEFAULT '';
