-- Panels defined at run time: each panel's definition (adapter name, base URL, settings,
-- limits, credentials as references to the environment, a file or the config file, never
-- values), as JSON. The config file seeds it; the admin API changes it; every host on the store
-- follows it. A removed panel keeps its row (`removed_at` set), so its `version` only grows and
-- a host that missed the removal still sees it. `seed` is the definition the config file last
-- wrote here (NULL for a panel the admin API created): at start, a config entry that differs
-- from it was edited, and is written again; one that is the same leaves the store's definition.
CREATE TABLE panels (
    id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    version BIGINT NOT NULL,
    seed TEXT,
    updated_at TEXT NOT NULL,
    removed_at TEXT
);
