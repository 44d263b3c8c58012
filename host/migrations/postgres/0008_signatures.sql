-- Adapter signatures (docs/deploying.md, "Signed adapters"). A module may carry several: each
-- verified at push against the key its signer's name had in the config then. A panel with a
-- signature policy re-verifies them against its own keys whenever it loads the module.
CREATE TABLE module_signatures (
    module TEXT NOT NULL REFERENCES modules(hash),
    signature TEXT NOT NULL,
    signer TEXT NOT NULL,
    public_key TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (module, signature)
);

-- Who vouched for the module a deployment made active, where the panel has a policy.
ALTER TABLE deployments ADD COLUMN signer TEXT;
ALTER TABLE deployments ADD COLUMN signature TEXT;
