-- The adapter registry: every component the host was given, by content hash, and which one
-- each panel serves. Deployments are append-only: the active module of a panel is the top of
-- the stack its history builds (`config` and `set` push, `rollback` pops).
CREATE TABLE modules (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    wit TEXT NOT NULL,
    description TEXT NOT NULL,
    size INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    source TEXT NOT NULL,
    pushed_at TEXT NOT NULL
);
CREATE INDEX modules_name ON modules(name, version);

CREATE TABLE deployments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    panel TEXT NOT NULL,
    module TEXT NOT NULL REFERENCES modules(hash),
    action TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX deployments_panel ON deployments(panel, seq);
