"""mlx-lm side of bench/tokens-per-sec.ts: loads a model with mlx_lm.utils.load and times one greedy generation on the
given prompt ids with mlx_lm.generate.generate_step (the loop under stream_generate), after an untimed warm-up
generation. Prints one JSON line on stdout with the fields of EngineRun in bench/tps/result.ts.

    python bench/mlx_lm_tps.py --model DIR --prompt-file IDS.json --gen-tokens N [--warmup-tokens N]
                               [--prefill-step-size N]

Runs alone in its own process so its peak RSS is its own; the twin for Ithaca is bench/ithaca_tps.ts.
"""
import argparse
import json
import resource
import sys
import time

import mlx.core as mx
from mlx_lm.generate import generate_step
from mlx_lm.sample_utils import make_sampler
from mlx_lm.utils import load


def peak_rss_bytes() -> int:
    """VmHWM from /proc/self/status on Linux, else ru_maxrss (bytes on macOS)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def timed_generation(model, prompt: list[int], max_tokens: int, prefill_step_size: int):
    """One generation with a fresh cache; times the first token and the rest, as stream_generate does.
    Returns (ttft_s, decode_s, tokens)."""
    tokens = []
    t0 = time.perf_counter()
    t_first = t_last = t0
    for token, _ in generate_step(
        mx.array(prompt),
        model,
        max_tokens=max_tokens,
        sampler=make_sampler(0.0),
        prefill_step_size=prefill_step_size,
    ):
        t_last = time.perf_counter()
        if not tokens:
            t_first = t_last
        tokens.append(int(token))
    return t_first - t0, t_last - t_first, tokens


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--prompt-file", required=True)
    p.add_argument("--gen-tokens", type=int, default=128)
    p.add_argument("--warmup-tokens", type=int, default=8)
    p.add_argument("--prefill-step-size", type=int, default=2048)
    a = p.parse_args()
    with open(a.prompt_file) as f:
        prompt = json.load(f)

    t = time.perf_counter()
    model, _ = load(a.model)
    load_s = time.perf_counter() - t
    if a.warmup_tokens > 0:
        timed_generation(model, prompt, a.warmup_tokens, a.prefill_step_size)
    ttft, decode, tokens = timed_generation(model, prompt, a.gen_tokens, a.prefill_step_size)
    print(
        json.dumps(
            {
                "engine": "mlx-lm",
                "mlx_version": mx.__version__,
                "load_s": load_s,
                "prompt_tokens": len(prompt),
                "gen_tokens": len(tokens),
                "ttft_s": ttft,
                "prefill_tps": len(prompt) / ttft,
                "decode_tps": (len(tokens) - 1) / decode if len(tokens) > 1 else 0,
                "peak_rss_bytes": peak_rss_bytes(),
                "mlx_peak_bytes": mx.get_peak_memory(),
                "tokens": tokens,
            }
        )
    )


if __name__ == "__main__":
    main()
