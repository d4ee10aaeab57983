"""Greedy generation with mlx-lm, the reference implementation, for several models in one process.

Reads a JSON job on stdin: {"messages": [...], "max_tokens": N, "models": [DIR, ...]}; prints one JSON object
{DIR: {"prompt": [ids], "tokens": [ids]}} with the chat-templated prompt ids and the greedy `generate_step` ids."""
import json
import sys

import mlx.core as mx
from mlx_lm import load
from mlx_lm.generate import generate_step
from mlx_lm.sample_utils import make_sampler

job = json.load(sys.stdin)
results = {}
for model_dir in job["models"]:
    model, tokenizer = load(model_dir)
    prompt = tokenizer.apply_chat_template(job["messages"], add_generation_prompt=True)
    tokens = []
    sampler = make_sampler(0.0)
    for token, _ in generate_step(mx.array(prompt), model, max_tokens=job["max_tokens"], sampler=sampler):
        tokens.append(int(token))
    results[model_dir] = {"prompt": list(prompt), "tokens": tokens}
    del model, tokenizer
    mx.clear_cache()
print(json.dumps(results))
