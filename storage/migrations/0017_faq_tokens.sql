-- Each stored FAQ entry keeps its segmented tokens (one line per field: each question, the tags, the
-- answer; tokens separated by one space) and the fingerprint of the segmentation that made them
-- (dictionaries, word lists, normalisation, jieba/OpenCC/Unicode versions). At start the index takes
-- the tokens as they are; a row without tokens, or made under another fingerprint, is segmented again
-- and written back. An organisation's entries are read when a question from it first comes (by the
-- index below, which also finds rows of another fingerprint and counts each organisation's rows).
ALTER TABLE faq_entries ADD COLUMN tokens TEXT;
ALTER TABLE faq_entries ADD COLUMN tokens_fp TEXT;
CREATE INDEX faq_entries_org ON faq_entries(org_id, tokens_fp);
