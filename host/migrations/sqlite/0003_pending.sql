-- State-changing operations in flight: written before the partner is asked, removed in the
-- transaction that records the outcome. A `running` row found at start-up is an operation the
-- host died in; recovery marks it `unknown` and shows it to the portal and the operator.
CREATE TABLE pending (
    journal_id TEXT PRIMARY KEY,
    panel TEXT NOT NULL,
    operation TEXT NOT NULL,
    case_id TEXT,
    opens TEXT,
    idem_scope TEXT,
    idem_key TEXT,
    request TEXT NOT NULL,
    started_at TEXT NOT NULL,
    state TEXT NOT NULL,
    recovered_at TEXT
);
