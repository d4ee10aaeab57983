-- The request log (`GET /admin/metrics`, `GET /admin/runs?history=N`): one row per inference request, written in
-- batches off the request path (src/store/request-log.ts) and bounded by age and rows. `seq` orders rows as written;
-- `at` is when the request arrived. No index besides `seq`: one would cost more per written row than it saves the
-- admin reads and the retention, which walk the table in `seq` order.
CREATE TABLE requests (
  seq               INTEGER PRIMARY KEY,
  id                TEXT NOT NULL,      -- the run id (`/admin/runs`)
  at                INTEGER NOT NULL,   -- unix ms, arrival
  caller            TEXT,               -- auth scope: open, key:<id>, crew:<id>, admin; null when never decided
  route             TEXT NOT NULL,      -- /v1/chat/completions, /v1/messages, /v1/responses, /v1/embeddings
  model             TEXT,               -- the model asked for
  served_model      TEXT,               -- the catalog id that answered (last tried on failure)
  backend           TEXT,               -- its backend id (local, upstream:<id>)
  stream            INTEGER NOT NULL,   -- 0 or 1
  status            INTEGER NOT NULL,   -- HTTP status sent (200 for a stream, even one that ended in-band in error)
  error             TEXT,               -- error code (in-band for a stream; client_closed when the client left)
  prompt_tokens     INTEGER,            -- the whole prompt, cached tokens included
  cached_tokens     INTEGER,
  completion_tokens INTEGER,
  ttft_ms           REAL,               -- arrival → first generated token sent (streams)
  tokens_per_s      REAL,               -- completion tokens / (end − first token), or / duration without a first token
  duration_ms       REAL NOT NULL       -- arrival → last byte of the answer
) STRICT;
