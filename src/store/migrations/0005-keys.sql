-- API keys issued through `/admin/keys`: who may call, on which models, within which limits. Only the SHA-256 of a key
-- is kept, with a short preview; the key itself is shown once, when it is created or rotated.
CREATE TABLE api_keys (
  id             TEXT PRIMARY KEY NOT NULL,         -- key-<12 hex>
  name           TEXT NOT NULL,
  key_sha256     TEXT NOT NULL UNIQUE,              -- hex
  key_preview    TEXT NOT NULL,                     -- sk-ith- and its first 4 characters
  models         TEXT NOT NULL DEFAULT '["*"]',     -- JSON array of model id patterns; ["*"] all, [] none
  rpm            INTEGER CHECK (rpm IS NULL OR rpm > 0),                       -- requests per minute
  tpm            INTEGER CHECK (tpm IS NULL OR tpm > 0),                       -- tokens per minute
  max_concurrent INTEGER CHECK (max_concurrent IS NULL OR max_concurrent > 0), -- requests at once
  expires_at     INTEGER,                           -- unix ms, or NULL for never
  created_at     INTEGER NOT NULL,                  -- unix ms
  updated_at     INTEGER NOT NULL                   -- unix ms
) STRICT;
