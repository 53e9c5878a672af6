"""Generation speed of zoo's GPT beside transformers' generate() on the same weights, and the KV cache's decode
speed along the context, measured in one run.

The zoo model is the char-gpt architecture (or char-gpt-small with --size small)
with a context of 512 tokens, so that a prompt and 256 new tokens fit. Its
weights are random (seeded) because speed does not depend on their values.
zoo's transformers export writes them to a GPT-2 folder, and
``GPT2LMHeadModel.from_pretrained`` loads that folder, so both sides run the
same weights. The script checks that their greedy outputs agree token for token.

Part 1 times what ``zoo generate`` calls, ``GPT.generate``, against
``GPT2LMHeadModel.generate`` (greedy, KV cache on both sides), at batch 1,
batch 8, and batch 8 of prompts of different lengths, left-padded with an
attention mask, alternating between them in each round. A third column runs
``GPT.generate`` with its forward compiled by ``torch.compile``, as the compile
variant of ``zoo bench`` does; compilation happens in the warm-up and is not
timed (``--no-compile`` leaves the column out).

Part 2 times decoding along the context: the tokens/s of 63 decode steps that
start at positions 64, 128, ..., 448, with the KV cache and without it
(``use_cache=False`` recomputes the whole prefix at every step).

    ./dev python benchmarks/generation_vs_transformers.py [--size small] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from zoo.export._gpt2 import gpt2_config, to_gpt2_state
from zoo_text import GPT
from zoo_text.options import GPTOptions

SIZES = {
    # n_layer, n_head, d_model of the shipped char-gpt and char-gpt-small recipes; vocabulary of Tiny Shakespeare.
    "char-gpt": dict(n_layer=4, n_head=4, d_model=128),
    "small": dict(n_layer=6, n_head=6, d_model=384),
}
VOCAB_SIZE = 65
BLOCK_SIZE = 512
PROMPT_TOKENS = 32
NEW_TOKENS = 256
POSITIONS = (64, 128, 192, 256, 320, 384, 448)
DECODE_STEPS = 63


def seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def build(size: str, folder: Path) -> tuple[GPT, torch.nn.Module]:
    """Return the zoo GPT and the transformers model loaded from zoo's GPT-2 export of its weights."""
    from transformers import GPT2LMHeadModel
    from transformers.utils import logging as transformers_logging

    torch.manual_seed(0)
    options = GPTOptions(**SIZES[size], block_size=BLOCK_SIZE)
    model = GPT(options, VOCAB_SIZE).eval()
    save_file(to_gpt2_state(model.state_dict(), options.n_layer, options.tie_weights),
              str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(gpt2_config(options, VOCAB_SIZE)))
    transformers_logging.disable_progress_bar()
    reference = GPT2LMHeadModel.from_pretrained(str(folder)).eval()
    return model, reference


def compare_generate(models: dict[str, torch.nn.Module], batch: int, repeats: int,
                     padded: bool = False) -> dict[str, dict[str, float]]:
    """Return the tokens/s (median) and relative spread of each model's greedy generation of NEW_TOKENS tokens.

    With ``padded``, row i of the prompt has 3 * i padding tokens on the left, masked on both sides.
    """
    prompt = torch.randint(0, VOCAB_SIZE, (batch, PROMPT_TOKENS), generator=torch.Generator().manual_seed(batch))
    mask = torch.ones_like(prompt)
    if padded:
        for row in range(batch):
            mask[row, :3 * row] = 0
        prompt = prompt.masked_fill(mask == 0, 0)

    def call(name: str):
        if name == "transformers":
            return models[name].generate(prompt, attention_mask=mask, max_new_tokens=NEW_TOKENS,
                                         min_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0)
        return models[name].generate(prompt, NEW_TOKENS, temperature=0, attention_mask=mask if padded else None)

    with torch.inference_mode():
        outputs = {name: call(name) for name in models}  # warm-up (and compilation), and the check below
        for name, output in outputs.items():
            if not torch.equal(output, outputs["zoo"]):
                raise SystemExit(f"batch {batch}: {name} generated other tokens than zoo; the weights differ")
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(repeats):
            for name in models:
                times[name].append(seconds(lambda: call(name)))
    tokens = batch * NEW_TOKENS
    return {name: {"tokens_per_s": tokens / statistics.median(values), "spread": _relative_spread(values)}
            for name, values in times.items()}


def _relative_spread(times: list[float]) -> float:
    """Return half the interquartile range of the times, relative to their median."""
    if len(times) < 2:
        return 0.0
    p25, _, p75 = statistics.quantiles(times, n=4, method="inclusive")
    return (p75 - p25) / 2 / statistics.median(times)


def decode_along_context(model: GPT, repeats: int) -> dict[str, dict[int, float]]:
    """Return decode tokens/s of DECODE_STEPS steps starting at each of POSITIONS, with and without the cache.

    Each round visits every position and mode once, so a change of machine load spreads over all of them.
    """
    text = torch.randint(0, VOCAB_SIZE, (1, BLOCK_SIZE), generator=torch.Generator().manual_seed(1))
    modes = (("cached", True), ("uncached", False))
    samples: dict[tuple[str, int], list[float]] = {(mode, p): [] for mode, _ in modes for p in POSITIONS}
    with torch.inference_mode():
        for position in POSITIONS:  # warm-up at every length
            for _, use_cache in modes:
                model.generate(text[:, :position], 2, temperature=0, use_cache=use_cache)
        for _ in range(repeats):
            for position in POSITIONS:
                prompt = text[:, :position]
                for mode, use_cache in modes:
                    prefill = seconds(lambda: model.generate(prompt, 1, temperature=0, use_cache=use_cache))
                    total = seconds(lambda: model.generate(prompt, 1 + DECODE_STEPS, temperature=0,
                                                           use_cache=use_cache))
                    if total > prefill:
                        samples[mode, position].append(DECODE_STEPS / (total - prefill))
    return {mode: {p: statistics.median(samples[mode, p]) for p in POSITIONS} for mode, _ in modes}


def generate_part(model: GPT, reference: torch.nn.Module, args: argparse.Namespace, results: dict) -> None:
    """Print part 1, the generate() table, and store its numbers in ``results``."""
    models: dict[str, torch.nn.Module] = {"zoo": model, "transformers": reference}
    if not args.no_compile:
        compiled = copy.deepcopy(model)
        compiled.forward = torch.compile(compiled.forward)
        models["zoo compiled"] = compiled
    print(f"## generate(): {PROMPT_TOKENS}-token prompt, {NEW_TOKENS} new tokens, greedy, median of {args.repeats}\n")
    print("| batch | " + " | ".join(f"{name} (tokens/s)" for name in models) + " | zoo / transformers |"
          + (" zoo compiled / transformers |" if "zoo compiled" in models else ""))
    print("|---|" + "---|" * (len(models) + len(models) - 1))
    for batch, padded in ((1, False), (8, False), (8, True)):
        rates = compare_generate(models, batch, args.repeats, padded)
        results["generate"][f"{batch} padded" if padded else batch] = rates
        cells = [f"{rates[name]['tokens_per_s']:,.0f} ±{rates[name]['spread']:.0%}" for name in models]
        ratios = [f"{rates[name]['tokens_per_s'] / rates['transformers']['tokens_per_s']:.2f}x"
                  for name in models if name != "transformers"]
        label = f"{batch}, left-padded to {PROMPT_TOKENS} (prompts of {PROMPT_TOKENS - 3 * (batch - 1)} to " \
                f"{PROMPT_TOKENS} tokens)" if padded else str(batch)
        print(f"| {label} | " + " | ".join(cells + ratios) + " |")
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="char-gpt", help="model shape")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--no-compile", action="store_true", help="leave out the torch.compile column")
    parser.add_argument("--decode-only", action="store_true", help="run only part 2, decoding along the context")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import transformers

    with tempfile.TemporaryDirectory() as folder:
        model, reference = build(args.size, Path(folder))
    parameters = sum(p.numel() for p in model.parameters())
    load = os.getloadavg()
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, "
          f"{torch.get_num_threads()} torch threads, load average {load[0]:.1f} at start; Python "
          f"{platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"model: {args.size} shape, {parameters:,} parameters, context {BLOCK_SIZE}, random weights (seed 0)\n")

    results = {"size": args.size, "parameters": parameters, "threads": torch.get_num_threads(),
               "load_average_start": load[0], "generate": {}, "decode": {}}
    if not args.decode_only:
        generate_part(model, reference, args, results)

    print(f"\n## decode tokens/s of {DECODE_STEPS} steps from each start position, batch 1, median of "
          f"{args.repeats}\n")
    rates = decode_along_context(model, args.repeats)
    results["decode"] = rates
    print("| start position | " + " | ".join(str(p) for p in POSITIONS) + " | max / min |")
    print("|---|" + "---|" * (len(POSITIONS) + 1))
    for mode in ("cached", "uncached"):
        values = [rates[mode][p] for p in POSITIONS]
        print(f"| {mode} | " + " | ".join(f"{v:,.0f}" for v in values) + f" | {max(values) / min(values):.2f} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
