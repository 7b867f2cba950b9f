-- 述职考评: the end of a cycle's activity period, when the chair set one (从 2026-01-01 到 2026-12-31)
-- or the review is for a year already over (a 2026年度述职 started in January 2027 counts 2026 only).
-- NULL: the period runs to the report deadline, or the close if that comes first (as before).
ALTER TABLE review_cycles ADD COLUMN period_end TEXT;
