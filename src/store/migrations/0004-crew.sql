-- Paired clients (`POST /admin/pair`, odyssai-x-wire §7): one row per client_id (pairing again replaces it). Only the
-- SHA-256 of a crew token is kept, with a short preview for the operator; the token itself is shown once, at pairing.
CREATE TABLE crew (
  id            TEXT PRIMARY KEY NOT NULL,          -- crew-<16 hex>
  client_id     TEXT NOT NULL UNIQUE,
  client_name   TEXT NOT NULL,
  user_label    TEXT,
  token_sha256  TEXT NOT NULL UNIQUE,               -- hex
  token_preview TEXT NOT NULL,                      -- crew_ and its first 4 characters
  created_at    INTEGER NOT NULL,                   -- unix ms
  last_seen_at  INTEGER                             -- unix ms; the last request with its token (to the minute)
) STRICT;
