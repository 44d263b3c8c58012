-- Who holds an idempotency key while its request runs: a token of that request's own. A
-- release (a failed request letting its key go, retried in the background while the store
-- is failing) deletes only its own claim, never a later request's claim of the same key.
-- Claims written before this column have none: only the start-up and sweep release
-- (`release_running_keys`, by age) lets those go.
ALTER TABLE idempotency ADD COLUMN claimed_by TEXT;
