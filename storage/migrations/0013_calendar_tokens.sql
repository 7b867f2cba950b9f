-- Calendar subscriptions (/calendar, issue #16): one unguessable token per member and scope; the
-- bot's web server serves /cal/<token>.ics. `mine`: her own shifts; `all`: the whole rotation
-- (chair and vice chairs only, checked again on every request). /calendar 重置 replaces a token.
CREATE TABLE calendar_tokens (
    token TEXT PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    scope TEXT NOT NULL CHECK (scope IN ('mine', 'all')),
    created_at TEXT NOT NULL,
    UNIQUE (member_id, scope)
);
