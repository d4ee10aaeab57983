"""Greedy continuous batching with mlx-lm, the reference implementation: its `BatchGenerator` driven call by call.

Reads a JSON job on stdin: {"model": DIR, "prefill_step_size": N, "prefill_batch_size": N,
"completion_batch_size": N, "sequences": [{"prompt": [ids], "max_tokens": N, "join_at": CALL, "cached": K}, ...]}.
Each sequence is inserted just before `BatchGenerator.next()` call number `join_at` (0-based); with `cached` K > 0 it
starts from a KV cache holding its first K prompt tokens, prefilled alone (a prefix-cache hit). When every sequence
joins at call 0 from an empty cache, the job runs `batch_generate` itself. Prints {"tokens": [[ids], ...]}: each
sequence's generated ids, the end-of-turn token excluded (as `batch_generate` returns them)."""
import json
import sys

import mlx.core as mx
from mlx_lm import load
from mlx_lm.generate import BatchGenerator, batch_generate
from mlx_lm.models.cache import make_prompt_cache

job = json.load(sys.stdin)
model, tokenizer = load(job["model"])
seqs = job["sequences"]
sizes = {
    "prefill_step_size": job["prefill_step_size"],
    "prefill_batch_size": job["prefill_batch_size"],
    "completion_batch_size": job["completion_batch_size"],
}

if all(s["join_at"] == 0 and not s.get("cached") for s in seqs):
    r = batch_generate(
        model,
        tokenizer,
        [s["prompt"] for s in seqs],
        max_tokens=[s["max_tokens"] for s in seqs],
        return_token_ids=True,
        **sizes,
    )
    print(json.dumps({"tokens": r.token_ids}))
    sys.exit(0)

gen = BatchGenerator(model, stop_tokens=[[t] for t in tokenizer.eos_token_ids], **sizes)
tokens = [[] for _ in seqs]
seq_of_uid = {}
finished = 0
call = 0
while finished < len(seqs):
    for i, s in enumerate(seqs):
        if s["join_at"] != call:
            continue
        prompt, caches = s["prompt"], None
        if s.get("cached"):
            cache = make_prompt_cache(model)
            model(mx.array(prompt[: s["cached"]])[None], cache=cache)
            mx.eval([c.state for c in cache])
            prompt, caches = prompt[s["cached"] :], [cache]
        (uid,) = gen.insert([prompt], [s["max_tokens"]], caches=caches)
        seq_of_uid[uid] = i
    _, responses = gen.next()
    for r in responses:
        i = seq_of_uid[r.uid]
        if r.finish_reason != "stop":
            tokens[i].append(r.token)
        if r.finish_reason is not None:
            finished += 1
    call += 1
gen.close()
print(json.dumps({"tokens": tokens}))
