-- Webhook subscriptions and their deliveries (docs/webhooks.md). A subscription's `event_cursor` is
-- the last event `seq` it has taken into its deliveries: a restart or another host resumes there.
-- Times the worker compares (`*_ms`) are milliseconds since the Unix epoch.
CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    -- JSON arrays; empty: every kind, every panel.
    kinds TEXT NOT NULL,
    panels TEXT NOT NULL,
    description TEXT,
    -- `whsec_<base64>` (Standard Webhooks).
    secret TEXT NOT NULL,
    -- `config` (seeded from [[webhooks.subscriptions]]) or `admin`.
    source TEXT NOT NULL,
    -- `enabled` or `disabled`.
    state TEXT NOT NULL,
    disabled_reason TEXT,
    event_cursor INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One event for one subscription. `seq` is the order the worker keeps per `case_key` (the
-- event's case, or the event's own id when it has none).
CREATE TABLE webhook_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_seq INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    case_id TEXT,
    case_key TEXT NOT NULL,
    -- `pending`, `delivered` or `failed`.
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    leased_until_ms INTEGER NOT NULL DEFAULT 0,
    leased_by TEXT,
    last_attempt_at TEXT,
    last_status INTEGER,
    last_error TEXT,
    last_latency_ms INTEGER,
    delivered_at TEXT,
    -- When the host took the event into this subscription's deliveries (a replay's time range).
    created_ms INTEGER NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_ms);
CREATE INDEX webhook_deliveries_case ON webhook_deliveries(subscription_id, case_key, state, seq);
