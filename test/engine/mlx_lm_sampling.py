"""mlx-lm's sampling functions as the reference for Ithaca's (test/engine/sampling.test.ts).

Usage:
  python mlx_lm_sampling.py filters JSON   JSON = {"logprobs": [[...]], "top_p": p, "min_p": m, "top_k": k}
      prints {"top_p": [[...]], "min_p": [[...]], "top_k": [[...]]} with -inf as null
  python mlx_lm_sampling.py greedy MODEL_DIR JSON
      JSON = {"messages": [...], "max_tokens": n, "repetition_penalty": r, "repetition_context_size": c,
              "presence_penalty": p, "frequency_penalty": f, "logit_bias": {id: bias}}
      prints {"prompt": [...], "tokens": [...], "logprobs": [...]} from generate_step with those logits processors
"""
import json
import math
import sys

import mlx.core as mx
from mlx_lm.sample_utils import apply_min_p, apply_top_k, apply_top_p, make_logits_processors, make_sampler


def listed(a):
    return [[None if math.isinf(x) else x for x in row] for row in a.tolist()]


def filters(spec):
    logprobs = mx.array(spec["logprobs"], dtype=mx.float32)
    print(json.dumps({
        "top_p": listed(apply_top_p(logprobs, spec["top_p"])),
        "min_p": listed(apply_min_p(logprobs, spec["min_p"])),
        "top_k": listed(apply_top_k(logprobs, spec["top_k"])),
    }))


def greedy(model_dir, spec):
    from mlx_lm import load
    from mlx_lm.generate import generate_step

    model, tokenizer = load(model_dir)
    prompt = tokenizer.apply_chat_template(spec["messages"], add_generation_prompt=True)
    bias = {int(k): v for k, v in (spec.get("logit_bias") or {}).items()}
    processors = make_logits_processors(
        logit_bias=bias or None,
        repetition_penalty=spec.get("repetition_penalty"),
        repetition_context_size=spec.get("repetition_context_size", 20),
        presence_penalty=spec.get("presence_penalty"),
        presence_context_size=spec.get("repetition_context_size", 20),
        frequency_penalty=spec.get("frequency_penalty"),
        frequency_context_size=spec.get("repetition_context_size", 20),
    )
    tokens, logprobs = [], []
    for token, lp in generate_step(mx.array(prompt), model, max_tokens=spec["max_tokens"],
                                   sampler=make_sampler(0.0), logits_processors=processors):
        tokens.append(int(token))
        logprobs.append(float(lp[int(token)]))
    print(json.dumps({"prompt": list(prompt), "tokens": tokens, "logprobs": logprobs}))


if sys.argv[1] == "filters":
    filters(json.loads(sys.argv[2]))
else:
    greedy(sys.argv[2], json.loads(sys.argv[3]))
