-- The /rota_set button wizard in progress, one per chat and the person who started it: the steps
-- chosen so far, kept here so that a restart in the middle loses nothing.
CREATE TABLE rota_flows (
    chat_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    period TEXT,                               -- day | week | month, once picked
    start TEXT,                                -- YYYY-MM-DD, once picked
    member_ids TEXT NOT NULL DEFAULT '[]',     -- JSON list of members.id, in duty order
    updated_at TEXT NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);
