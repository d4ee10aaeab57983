-- Ring clusters (`/admin/clusters` with kind `ring`): machines that run one model together over MLX's ring backend,
-- ranks spawned over SSH. No secret is stored here: a private key is referenced by its path on this machine.
CREATE TABLE ring_clusters (
  id             TEXT PRIMARY KEY NOT NULL CHECK (length(id) > 0), -- a slug, validated by the API
  label          TEXT NOT NULL,
  models_dir     TEXT NOT NULL,  -- on every node; model paths are relative to it unless absolute
  ithaca_command TEXT NOT NULL,  -- how a node runs Ithaca (`ithaca`, a binary's path)
  ssh_key_path   TEXT,           -- private key file (else ITHACA_SSH_KEY, else the SSH agent)
  nodes          TEXT NOT NULL,  -- JSON [{host, ssh, ip, ssh_host_key}] in rank order
  prefill_deadline_s INTEGER NOT NULL DEFAULT 600, -- watchdog: the first token (or a non-stream answer's headers)
  decode_deadline_s  INTEGER NOT NULL DEFAULT 300, -- watchdog: between two tokens of a stream
  created_at     INTEGER NOT NULL, -- unix ms
  updated_at     INTEGER NOT NULL  -- unix ms
) STRICT;
