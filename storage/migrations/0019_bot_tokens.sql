-- Several bot tokens on one database (issue #15): an organisation belongs to the bot through which
-- it was set up, and every outbox row records the bot that sends it (NULL: any bot's sender, as
-- before; legacy rows and single-bot deployments). storage/outbox.py fills it when a row is added.
ALTER TABLE orgs ADD COLUMN bot_id INTEGER;
ALTER TABLE outbox ADD COLUMN bot_id INTEGER;
-- A reminder outside any organisation (a private chat) is sent by the bot it was set through.
ALTER TABLE reminders ADD COLUMN bot_id INTEGER;
