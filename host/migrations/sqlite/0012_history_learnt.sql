-- When the news in a case's history entry was learnt (Unix milliseconds): an operation's when
-- it was asked for, a callback's when it was received, anything else's when it was written. A
-- change learnt before the newest entry's news leaves the case's status alone (store::write).
ALTER TABLE case_history ADD COLUMN learnt_ms INTEGER;
UPDATE case_history SET learnt_ms = CAST((julianday(at) - 2440587.5) * 86400000 AS INTEGER);
