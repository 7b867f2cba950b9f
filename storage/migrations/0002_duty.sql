-- Duty rotation (versions, overrides, local days off), swap requests, check-ins, the duty ledger,
-- hand-over notes, and the notices already sent (so a restart never sends one twice).
CREATE TABLE rotation_versions (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    effective_from TEXT NOT NULL,
    member_ids TEXT NOT NULL,
    period TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')),
    anchor TEXT NOT NULL,
    handoff TEXT NOT NULL,
    skip_non_working INTEGER NOT NULL DEFAULT 0,
    created_by INTEGER,
    created_at TEXT NOT NULL
);
CREATE INDEX rotation_versions_org ON rotation_versions(org_id, id);

CREATE TABLE local_days_off (
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    PRIMARY KEY (org_id, day)
);

CREATE TABLE duty_overrides (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('leave', 'swap', 'assign')),
    member_id INTEGER NOT NULL,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    replacement_id INTEGER,
    note TEXT NOT NULL DEFAULT '',
    created_by INTEGER,
    created_at TEXT NOT NULL
);
CREATE INDEX duty_overrides_org ON duty_overrides(org_id, created_at);

CREATE TABLE swap_requests (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    requester_id INTEGER NOT NULL REFERENCES members(id),
    target_id INTEGER NOT NULL REFERENCES members(id),
    day TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'expired')),
    created_at TEXT NOT NULL,
    decided_at TEXT
);

CREATE TABLE checkins (
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    shift_start TEXT NOT NULL,
    member_id INTEGER NOT NULL REFERENCES members(id),
    at TEXT NOT NULL,
    PRIMARY KEY (org_id, shift_start)
);

CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id),
    category TEXT NOT NULL,
    content TEXT NOT NULL,
    file_id TEXT,
    file_kind TEXT,
    at TEXT NOT NULL
);
CREATE INDEX ledger_org_at ON ledger_entries(org_id, at);

CREATE TABLE handover_notes (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id),
    content TEXT NOT NULL,
    at TEXT NOT NULL,
    delivered_at TEXT
);

CREATE TABLE sent_notices (
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (org_id, kind, ref)
);
