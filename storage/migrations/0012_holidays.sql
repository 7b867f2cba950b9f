-- Holidays and 调休 working days entered by a super admin (/holiday_set): they win over the
-- chinese_calendar library's data for that day, for every organisation.
CREATE TABLE holiday_days (
    day TEXT PRIMARY KEY,              -- YYYY-MM-DD
    workday INTEGER NOT NULL CHECK (workday IN (0, 1)),  -- 0: 休 (day off), 1: 班 (调休 working day)
    name TEXT NOT NULL DEFAULT '',
    set_by INTEGER,
    set_at TEXT NOT NULL
);
