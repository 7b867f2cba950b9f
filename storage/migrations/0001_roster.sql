-- Organisations, their groups, the roster, people the bot has seen, and the audit log.
CREATE TABLE orgs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    created_by INTEGER NOT NULL
);

CREATE TABLE chats (
    chat_id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('work', 'public')),
    title TEXT NOT NULL DEFAULT '',
    bound_at TEXT NOT NULL
);
CREATE UNIQUE INDEX chats_one_kind_per_org ON chats(org_id, kind);

CREATE TABLE users (
    user_id INTEGER PRIMARY KEY,
    username TEXT,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    lang TEXT,
    last_org_id INTEGER REFERENCES orgs(id) ON DELETE SET NULL,
    seen_at TEXT NOT NULL
);
CREATE INDEX users_username ON users(lower(username));

CREATE TABLE members (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id INTEGER,
    username TEXT,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('chair', 'vice_chair', 'member')),
    newly_elected INTEGER NOT NULL DEFAULT 0,
    elected_on TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    added_at TEXT NOT NULL,
    removed_at TEXT
);
CREATE UNIQUE INDEX members_active_user ON members(org_id, user_id) WHERE active = 1 AND user_id IS NOT NULL;
CREATE INDEX members_org ON members(org_id, active);

CREATE TABLE chat_prefs (
    chat_id INTEGER PRIMARY KEY,
    lang TEXT NOT NULL
);

CREATE TABLE link_codes (
    code TEXT PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    created_by INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);

CREATE TABLE join_requests (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL,
    display_name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at TEXT NOT NULL,
    decided_by INTEGER,
    decided_at TEXT
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    org_id INTEGER REFERENCES orgs(id) ON DELETE SET NULL,
    actor_id INTEGER,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    at TEXT NOT NULL
);
CREATE INDEX audit_org ON audit_log(org_id, at);
