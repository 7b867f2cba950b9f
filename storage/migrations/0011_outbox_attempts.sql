-- Every send attempt of an outbox row counted with its outcome (issue #11): `attempts` now counts
-- attempts (not rows finished), `outcomes` keeps the most recent outcomes in order
-- (ok, 429, 5xx, network, timeout, cut, refused …), `uncertain` counts attempts that may have been
-- delivered although no answer came back (a repeat after one of them may double the message).
ALTER TABLE outbox ADD COLUMN outcomes TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0;
