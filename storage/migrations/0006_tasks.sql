-- The task list (任务清单): each task has a deadline, one or more owners from the roster, and is
-- closed off (销号) once, by an owner or a chair/vice chair, with an optional note and evidence file.
-- created_by / closed_by are Telegram user ids (a super admin may act without a roster row).
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    deadline TEXT NOT NULL,
    created_by INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    closed_at TEXT,
    closed_by INTEGER,
    note TEXT,
    file_id TEXT,
    file_kind TEXT CHECK (file_kind IS NULL OR file_kind IN ('photo', 'document'))
);
CREATE INDEX tasks_open ON tasks(org_id, closed_at, deadline);
CREATE INDEX tasks_deadline ON tasks(org_id, deadline);

CREATE TABLE task_owners (
    task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id),
    PRIMARY KEY (task_id, member_id)
);
CREATE INDEX task_owners_member ON task_owners(member_id);
