-- Several bot tokens on one database (issue #15): an organisation belongs to the bot through which
-- it was set up, and every outbox row records the bot that sends it (NULL: any bot's sender, as
-- before; legacy rows and single-bot deployments). storage/outbox.py fills it when a row is added.
ALTER TABLE orgs ADD COLUMN bot_id INTEGER;
ALTER TABLE outbox ADD COLUMN bot_id INTEGER;
-- A reminder outside any organisation (a private chat) is sent by the bot it was set through.
ALTER TABLE reminders ADD COLUMN bot_id INTEGER;
-- Update ids are counted per bot: the journal of handled updates is kept per bot (0: not recorded,
-- adopted by the first bot to start, as above).
CREATE TABLE processed_updates_by_bot (
    bot_id INTEGER NOT NULL DEFAULT 0,
    update_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (bot_id, update_id)
) WITHOUT ROWID;
INSERT INTO processed_updates_by_bot(update_id, at) SELECT update_id, at FROM processed_updates;
DROP TABLE processed_updates;
ALTER TABLE processed_updates_by_bot RENAME TO processed_updates;
