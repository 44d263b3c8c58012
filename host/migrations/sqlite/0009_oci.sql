-- Adapters pulled from OCI registries (docs/deploying.md, "Adapters from an OCI registry"): the
-- reference a module was first pulled by, pinned to its manifest's digest
-- (`oci://REGISTRY/REPO@sha256:...`), and the one each deployment of it made active. A tag
-- resolves to a digest once; a tag that moves later changes neither.
ALTER TABLE modules ADD COLUMN origin TEXT;
ALTER TABLE deployments ADD COLUMN origin TEXT;
CREATE INDEX modules_origin ON modules(origin);
