-- A /faq_import waiting for the chair's 保存 after the preview (kept here, so a restart in between
-- loses nothing; rows are the validated entries as JSON).
CREATE TABLE faq_import_pending (
    id INTEGER PRIMARY KEY,
    org_id INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL,
    rows TEXT NOT NULL,
    at TEXT NOT NULL
);
