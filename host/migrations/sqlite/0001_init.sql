-- Cases the host tracks across operations, with their partner references and history.
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    panel TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    product TEXT,
    parent TEXT REFERENCES cases(id),
    policy TEXT,
    requirements TEXT NOT NULL DEFAULT '[]',
    message TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX cases_panel ON cases(panel);

CREATE TABLE case_references (
    panel TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases(id),
    PRIMARY KEY (panel, kind, value, case_id)
);
CREATE INDEX case_references_case ON case_references(case_id);

CREATE TABLE case_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL REFERENCES cases(id),
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    journal_id TEXT,
    detail TEXT
);
CREATE INDEX case_history_case ON case_history(case_id);

-- Canonical facts, in the order the host learned them: the portal's resumable feed.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    panel TEXT NOT NULL,
    case_id TEXT REFERENCES cases(id),
    kind TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    status TEXT,
    payload TEXT NOT NULL,
    flagged TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (panel, dedup_key)
);

-- Append-only, hash-chained record of every portal call, partner exchange and callback.
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    panel TEXT,
    operation TEXT NOT NULL,
    kind TEXT NOT NULL,
    case_id TEXT,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;

CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Partner callbacks exactly as received, and what the adapter made of them.
CREATE TABLE callbacks (
    id TEXT PRIMARY KEY,
    panel TEXT NOT NULL,
    path TEXT NOT NULL,
    received_at TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    parsed TEXT,
    reply_status INTEGER,
    flagged TEXT
);

CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at TEXT NOT NULL
);
