-- Cloud providers added while Ithaca runs (`/admin/providers`): where they are, which protocol they speak and which
-- models they publish. A key is referenced by environment variable name (api_key_env) or stored in the secrets file
-- (src/store/secrets.ts, mode 0600), never here.
CREATE TABLE providers (
  id          TEXT PRIMARY KEY NOT NULL CHECK (length(id) > 0), -- a slug, validated by the API
  protocol    TEXT NOT NULL CHECK (protocol IN ('openai', 'anthropic')),
  api_base    TEXT NOT NULL,
  api_key_env TEXT,
  published   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(published)), -- [{alias, upstream, caps}]
  enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at  INTEGER NOT NULL, -- unix ms
  updated_at  INTEGER NOT NULL  -- unix ms
) STRICT;
