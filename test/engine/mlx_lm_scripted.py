"""Greedy generation with mlx-lm for chat cases that use tools and template options (for scripted models).

Reads a JSON job on stdin: {"model": DIR, "max_tokens": N, "cases": [{"messages": [...], "tools": [...]?,
"enable_thinking": bool?}, ...]}; prints a JSON list, one entry per case: {"prompt": [ids], "tokens": [ids]} with the
prompt ids from mlx-lm's tokenizer chat template and the greedy `generate_step` ids up to and including the first
end-of-sequence id (or N ids)."""
import json
import sys

import mlx.core as mx
from mlx_lm import load
from mlx_lm.generate import generate_step
from mlx_lm.sample_utils import make_sampler

job = json.load(sys.stdin)
model, tokenizer = load(job["model"])
results = []
for case in job["cases"]:
    kwargs = {}
    if case.get("tools"):
        kwargs["tools"] = case["tools"]
    if "enable_thinking" in case:
        kwargs["enable_thinking"] = case["enable_thinking"]
    prompt = tokenizer.apply_chat_template(case["messages"], add_generation_prompt=True, **kwargs)
    tokens = []
    for token, _ in generate_step(mx.array(prompt), model, max_tokens=job["max_tokens"], sampler=make_sampler(0.0)):
        tokens.append(int(token))
        if int(token) in tokenizer.eos_token_ids:
            break
    results.append({"prompt": list(prompt), "tokens": tokens})
print(json.dumps(results))
