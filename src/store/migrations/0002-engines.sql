-- Engines enrolled while Ithaca runs (`/admin/clusters`): where they are and how to reach them. Secrets are referenced
-- by environment variable name (credential_env); a stored secret lives in its own file of mode 0600, never here.
CREATE TABLE engines (
  id             TEXT PRIMARY KEY NOT NULL CHECK (length(id) > 0), -- a slug, validated by the API
  label          TEXT NOT NULL,
  kind           TEXT NOT NULL,
  base_url       TEXT NOT NULL,
  ssh_target     TEXT,
  credential_env TEXT,
  enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at     INTEGER NOT NULL, -- unix ms
  updated_at     INTEGER NOT NULL  -- unix ms
) STRICT;
