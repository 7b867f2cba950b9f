-- Policy FAQ: entries added or imported by people (the shipped base is package data), every
-- question asked (for reports and votes), votes, and questions passed to the member on duty.
CREATE TABLE faq_entries (
    id INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL,
    org_id INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    questions TEXT NOT NULL,
    answer TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    source TEXT NOT NULL DEFAULT '',
    referral TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    created_by INTEGER
);
CREATE UNIQUE INDEX faq_entries_key ON faq_entries(entry_id, ifnull(org_id, 0));

CREATE TABLE faq_asked (
    id INTEGER PRIMARY KEY,
    org_id INTEGER REFERENCES orgs(id) ON DELETE SET NULL,
    chat_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    question TEXT NOT NULL,
    decision TEXT NOT NULL,
    entry_id TEXT,
    at TEXT NOT NULL
);
CREATE INDEX faq_asked_org_at ON faq_asked(org_id, at);

CREATE TABLE faq_votes (
    asked_id INTEGER NOT NULL REFERENCES faq_asked(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    at TEXT NOT NULL,
    PRIMARY KEY (asked_id, user_id)
);

CREATE TABLE faq_unanswered (
    id INTEGER PRIMARY KEY,
    org_id INTEGER REFERENCES orgs(id) ON DELETE SET NULL,
    chat_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    message_id INTEGER,
    question TEXT NOT NULL,
    danger INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'taken', 'answered')),
    taken_by INTEGER,
    answer TEXT,
    at TEXT NOT NULL,
    answered_at TEXT,
    saved_entry_id TEXT
);
CREATE INDEX faq_unanswered_org ON faq_unanswered(org_id, status);
