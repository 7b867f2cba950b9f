-- Telegram updates already handled (issue #11): after a kill -9 the updates fetched but not yet
-- acknowledged come again; one already handled is skipped, so a command creates its record once.
-- Kept two days (Telegram keeps an update at most 24 hours).
CREATE TABLE processed_updates (
    update_id INTEGER PRIMARY KEY,
    at TEXT NOT NULL
);
