-- Scheduler work found by index (issue #15). The duty producer's next wake per organisation: a
-- tick looks only at organisations whose next duty notice may be due. NULL: work it out at the
-- next tick (set by every change to a rotation, its overrides or days off, and for all by a
-- holiday change); `duty_changes` counts those changes so a tick never overwrites a newer NULL
-- with a wake computed before the change.
ALTER TABLE orgs ADD COLUMN duty_next_at TEXT;
ALTER TABLE orgs ADD COLUMN duty_changes INTEGER NOT NULL DEFAULT 0;
CREATE INDEX orgs_duty_next ON orgs(duty_next_at);
-- The task producer reads only open tasks with a deadline near or past (not every task ever).
CREATE INDEX tasks_open_deadline ON tasks(deadline) WHERE closed_at IS NULL;
