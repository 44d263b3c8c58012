-- A callback's event about a case the host does not know yet (the case is opened by an outcome
-- still being committed, or is in doubt without the partner's reference) keeps the reference
-- it names, so that it is applied once a case gains that reference (core::events). Set only
-- while the event waits; cleared when it is applied.
ALTER TABLE events ADD COLUMN ref_kind TEXT;
ALTER TABLE events ADD COLUMN ref_value TEXT;
-- When the fact was learnt (Unix milliseconds): a callback's when it was received. A waiting
-- event applied late is as old as this, not as its applying.
ALTER TABLE events ADD COLUMN learnt_ms BIGINT;
UPDATE events
   SET ref_kind = payload::jsonb -> 'case_ref' ->> 'kind',
       ref_value = payload::jsonb -> 'case_ref' ->> 'value'
 WHERE case_id IS NULL;
CREATE INDEX events_unapplied ON events(ref_kind, ref_value) WHERE ref_kind IS NOT NULL;
