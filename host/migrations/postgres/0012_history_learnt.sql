-- When the news in a case's history entry was learnt (Unix milliseconds): an operation's when
-- its last request was sent, a callback's when it was received, else when it was written. A
-- change learnt before the newest entry's news leaves the case's status alone (store::write).
ALTER TABLE case_history ADD COLUMN learnt_ms BIGINT;
UPDATE case_history SET learnt_ms = floor(EXTRACT(EPOCH FROM at::timestamptz) * 1000)::bigint;
