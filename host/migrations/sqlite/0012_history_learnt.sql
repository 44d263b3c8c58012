-- When the news in a case's history entry was learnt (Unix milliseconds): an operation's when
-- its last request was sent, a callback's when it was received, else when it was written. A
-- change learnt before the newest entry's news leaves the case's status alone (store::write).
-- (Truncated: the milliseconds as `store::write::ms_of` reads them, but for float rounding.)
ALTER TABLE case_history ADD COLUMN learnt_ms INTEGER;
UPDATE case_history SET learnt_ms = CAST((julianday(at) - 2440587.5) * 86400000 AS INTEGER);
