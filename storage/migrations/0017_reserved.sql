-- Placeholder: number 0017 belongs to another branch's migration (issue #15 work in parallel).
-- At the merge this file is dropped in favour of that migration; it changes nothing.
SELECT 1;
