-- The outbox: every scheduled message (reminders, duty notices, trainings, tasks, reports) is
-- written here in the same transaction that makes it due, then sent by the paced sender and marked
-- sent after Telegram accepted it. A crash between send and mark repeats at most that one message.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    org_id INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    chat_id INTEGER NOT NULL,
    fallback_chat_id INTEGER,
    lang TEXT,
    body TEXT NOT NULL,            -- JSON: {"key", "params", "buttons"}; rendered at send time
    dedupe TEXT UNIQUE,            -- a producer that enqueues the same thing twice is ignored
    due_at TEXT NOT NULL,          -- when it was meant to go out (lateness is measured from it)
    created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    sent_at TEXT,
    error TEXT
);
CREATE INDEX outbox_pending ON outbox(status, id);

CREATE TABLE reminders (
    id INTEGER PRIMARY KEY,
    org_id INTEGER REFERENCES orgs(id) ON DELETE CASCADE,
    chat_id INTEGER NOT NULL,
    created_by INTEGER NOT NULL,
    text TEXT NOT NULL,
    rule TEXT,                     -- a Recurrence encoding; NULL for a one-off
    next_at TEXT,                  -- the next time it falls due (UTC); NULL when finished
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'fired', 'done', 'cancelled')),
    created_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX reminders_due ON reminders(status, next_at);
