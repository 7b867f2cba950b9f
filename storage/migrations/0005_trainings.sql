-- Trainings (培训): the sessions, who signed up or asked for leave, and who attended.
CREATE TABLE trainings (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    place TEXT NOT NULL,
    topic TEXT NOT NULL,
    audience TEXT NOT NULL DEFAULT 'all' CHECK (audience IN ('all', 'new')),
    created_by INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    cancelled_at TEXT
);
CREATE INDEX trainings_org_start ON trainings(org_id, starts_at);
CREATE INDEX trainings_start ON trainings(starts_at) WHERE cancelled_at IS NULL;

CREATE TABLE training_signups (
    training_id INTEGER NOT NULL REFERENCES trainings(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('signed', 'leave')),
    at TEXT NOT NULL,
    PRIMARY KEY (training_id, member_id)
);

CREATE TABLE training_attendance (
    training_id INTEGER NOT NULL REFERENCES trainings(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    marked_by INTEGER NOT NULL,     -- Telegram user id of who marked it (herself, or the chair)
    PRIMARY KEY (training_id, member_id)
);
CREATE INDEX training_attendance_member ON training_attendance(member_id);
