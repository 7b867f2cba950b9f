-- A question of concern (a danger signal short of an alarm: 老公每天都骂我打我 我该怎么办) is marked
-- like a danger item, so a member's answer to one asked in the village group goes to her privately.
ALTER TABLE faq_unanswered ADD COLUMN concern INTEGER NOT NULL DEFAULT 0;
