"""Greedy generation with mlx-lm, the reference implementation: prints the chat-templated prompt ids and the
generated ids as JSON lines. Usage: python mlx_lm_greedy.py MODEL_DIR MESSAGES_JSON MAX_TOKENS"""
import json
import sys

import mlx.core as mx
from mlx_lm import load
from mlx_lm.generate import generate_step
from mlx_lm.sample_utils import make_sampler

model_dir, messages, max_tokens = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
model, tokenizer = load(model_dir)
prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
tokens = []
for token, _ in generate_step(mx.array(prompt), model, max_tokens=max_tokens, sampler=make_sampler(0.0)):
    tokens.append(int(token))
print(json.dumps({"prompt": list(prompt), "tokens": tokens}))
