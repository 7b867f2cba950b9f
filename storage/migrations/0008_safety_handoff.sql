-- Safety and hand-off. A member who pressed 我来回答: her next message in that chat is the answer
-- (kept here, so a restart in between loses nothing). A woman whose village is unknown after an
-- alert or a question nobody could take: the bot asked her which village she is in.
CREATE TABLE faq_answering (
    chat_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    item_id INTEGER NOT NULL REFERENCES faq_unanswered(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);

CREATE TABLE village_asked (
    user_id INTEGER PRIMARY KEY,
    item_id INTEGER REFERENCES faq_unanswered(id) ON DELETE CASCADE,
    at TEXT NOT NULL
);
