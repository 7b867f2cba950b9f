-- placeholder: filled by its feature
CREATE TABLE IF NOT EXISTS _placeholder_0006 (x INTEGER);
