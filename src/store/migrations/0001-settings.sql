-- Operator settings (`GET|PUT /admin/settings`): one JSON value per key.
CREATE TABLE settings (
  key        TEXT PRIMARY KEY NOT NULL,
  value      TEXT NOT NULL CHECK (json_valid(value)),
  updated_at INTEGER NOT NULL -- unix ms
) STRICT;
