-- Storage per organisation-year (issue #15). The check-ins and the duty-notice claims are small
-- rows looked up only by their primary key: stored WITHOUT ROWID they are one B-tree instead of a
-- table plus an index holding the same columns again.
CREATE TABLE checkins_compact (
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    shift_start TEXT NOT NULL,
    member_id INTEGER NOT NULL REFERENCES members(id),
    at TEXT NOT NULL,
    PRIMARY KEY (org_id, shift_start)
) WITHOUT ROWID;
INSERT INTO checkins_compact(org_id, shift_start, member_id, at) SELECT org_id, shift_start, member_id, at FROM checkins;
DROP TABLE checkins;
ALTER TABLE checkins_compact RENAME TO checkins;

CREATE TABLE sent_notices_compact (
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (org_id, kind, ref)
) WITHOUT ROWID;
INSERT INTO sent_notices_compact(org_id, kind, ref, sent_at) SELECT org_id, kind, ref, sent_at FROM sent_notices;
DROP TABLE sent_notices;
ALTER TABLE sent_notices_compact RENAME TO sent_notices;

-- The sender and the backlog look only at pending rows: index those alone (sent rows were most of
-- the old index).
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox(id) WHERE status = 'pending';

-- The hand-off notice takes an organisation's undelivered hand-over notes (was a scan of every note).
CREATE INDEX handover_notes_pending ON handover_notes(org_id) WHERE delivered_at IS NULL;
