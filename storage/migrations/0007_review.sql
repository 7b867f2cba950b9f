-- Yearly performance review (述职考评): cycles, the members taking part, reports, the chair's
-- scores and adjustments, the anonymous democratic ratings, per-organisation rubric overrides, and
-- the frozen results.
--
-- Anonymity of the ratings (see ARCHITECTURE.md, "Review privacy"):
-- * review_ratings holds (cycle, ratee, option) only: no rater, no time, no rowid (WITHOUT ROWID,
--   so storage order follows the id, not the order in which people voted).
-- * The row id is HMAC-SHA256(ballot_key, "cycle:rater:ratee"), with ballot_key a random 32-byte
--   secret of the cycle. While the cycle is open the bot recomputes the id to find and change a
--   rater's earlier choice (so nobody can vote twice: the id is the primary key); there is no
--   other table of who rated whom.
-- * /review_close overwrites and then drops ballot_key in the same transaction that freezes the
--   results: afterwards the ids are random-looking strings that no one can tie to a rater.
CREATE TABLE review_cycles (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    period_start TEXT NOT NULL,    -- activity data counted from here (UTC) …
    deadline TEXT NOT NULL,        -- … to the report deadline, or the close if that comes first
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    ballot_key BLOB,               -- NULL once closed
    rubric TEXT,                   -- JSON of the rubric the results were computed with (at close)
    bot_username TEXT NOT NULL DEFAULT '',
    created_by INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    closed_by INTEGER,
    closed_at TEXT
);
CREATE UNIQUE INDEX review_cycles_one_open ON review_cycles(org_id) WHERE status = 'open';
CREATE INDEX review_cycles_org ON review_cycles(org_id, id);

CREATE TABLE review_participants (
    cycle_id INTEGER NOT NULL REFERENCES review_cycles(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id),
    PRIMARY KEY (cycle_id, member_id)
) WITHOUT ROWID;

CREATE TABLE review_reports (
    cycle_id INTEGER NOT NULL REFERENCES review_cycles(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id),
    content TEXT NOT NULL DEFAULT '',
    file_id TEXT,
    file_name TEXT,
    submitted_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (cycle_id, member_id)
) WITHOUT ROWID;

CREATE TABLE review_scores (
    cycle_id INTEGER NOT NULL REFERENCES review_cycles(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id),
    score TEXT NOT NULL,           -- a decimal as text (exact)
    comment TEXT NOT NULL DEFAULT '',
    scored_by INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (cycle_id, member_id)
) WITHOUT ROWID;

CREATE TABLE review_adjustments (
    id INTEGER PRIMARY KEY,
    cycle_id INTEGER NOT NULL REFERENCES review_cycles(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id),
    delta TEXT NOT NULL,           -- a decimal as text, e.g. "+2" or "-1.5"
    reason TEXT NOT NULL,
    created_by INTEGER NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX review_adjustments_cycle ON review_adjustments(cycle_id, member_id);

CREATE TABLE review_ratings (
    id TEXT PRIMARY KEY,           -- hex HMAC, see above
    cycle_id INTEGER NOT NULL REFERENCES review_cycles(id) ON DELETE CASCADE,
    ratee_id INTEGER NOT NULL REFERENCES members(id),
    choice INTEGER NOT NULL        -- index into the rubric's rating options, 0 = the best
) WITHOUT ROWID;
CREATE INDEX review_ratings_cycle ON review_ratings(cycle_id, ratee_id);

CREATE TABLE review_rubrics (
    org_id INTEGER PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    rubric TEXT NOT NULL,          -- JSON: only the parts the chair overrode
    updated_by INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE review_results (
    cycle_id INTEGER NOT NULL REFERENCES review_cycles(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id),
    position INTEGER NOT NULL,
    data TEXT NOT NULL,            -- JSON: name, role, components, activity, adjustments, total, grade, subsidy
    PRIMARY KEY (cycle_id, member_id)
) WITHOUT ROWID;
