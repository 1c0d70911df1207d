-- Requests for more storage (sqlite). Keep in step with
-- ../postgres/0021_quota_requests.sql.

-- Filed by those who manage a project, answered by an administrator of the
-- instance: granted (the project gets a quota of its own of granted_bytes)
-- or denied (with an answer saying why).
CREATE TABLE quota_requests (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id       INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    requester_id     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    requested_bytes  INTEGER NOT NULL,
    reason           TEXT    NOT NULL,
    -- pending, granted or denied
    state            TEXT    NOT NULL,
    granted_bytes    INTEGER,
    answer           TEXT    NOT NULL DEFAULT '',
    created_on       INTEGER NOT NULL,
    answered_on      INTEGER
);
CREATE INDEX quota_requests_project ON quota_requests (project_id);
-- One open request per project at a time.
CREATE UNIQUE INDEX quota_requests_one_pending ON quota_requests (project_id)
    WHERE state = 'pending';
