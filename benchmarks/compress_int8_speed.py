"""int8-dynamic against fp32 on the CPU: generation tokens/s, batch-1 latency and batch throughput.

Speed needs no trained weights, so both architectures are built from their
shipped recipes with seeded random weights: char-gpt-small (10.7M parameters,
where int8 matrix products can pay off) and the tiny char-gpt (0.8M). fp32 and
int8 models run in the same process, alternating round by round, so a change
in the load of a shared machine hits both alike. Results are medians, quoted
as int8 / fp32 ratios.

    ./dev python benchmarks/compress_int8_speed.py
    ./dev python benchmarks/compress_int8_speed.py --rounds 5 --threads 2
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
from pathlib import Path

import torch

from zoo.compression import measure_speed, weight_count
from zoo.runner._build import build_model
from zoo_compress._int8 import Int8Dynamic
from zoo_compress.options import Int8DynamicOptions
from zoo_registry import get_registry, load_recipe

CARDS = Path(__file__).resolve().parents[1] / "cards"
VOCAB_SIZE = 65  # the char tokenizer's vocabulary on Tiny Shakespeare
TARGET = 1.3  # int8 generation tokens/s over fp32 on char-gpt-small


def build(entry: str) -> tuple[torch.nn.Module, int, int]:
    """Return the fp32 model of a shipped recipe with seeded random weights, its context and batch size."""
    recipe = load_recipe(CARDS / entry / "recipe.yaml", get_registry())
    torch.manual_seed(0)
    model = build_model(recipe, {"vocab_size": VOCAB_SIZE}).eval()
    return model, recipe.model.options.block_size, recipe.runner.batch_size


def measure(entry: str, rounds: int, generate_rounds: int, batch_size: int | None) -> dict:
    fp32, block_size, recipe_batch = build(entry)
    int8 = Int8Dynamic(Int8DynamicOptions()).apply(copy.deepcopy(fp32))
    generator = torch.Generator().manual_seed(0)
    batch = torch.randint(0, VOCAB_SIZE, (batch_size or recipe_batch, block_size), generator=generator)
    prompt = batch[:1, :1]
    # block_size - 1 new tokens keep generation on the KV-cache path for the whole run.
    speeds = measure_speed({"fp32": fp32, "int8": int8}, batch[:1], batch, batch.numel(), rounds=rounds,
                           generate_tokens=block_size - 1, generate_rounds=generate_rounds, prompt=prompt)
    out = {"entry": entry, "weights": weight_count(fp32), "batch": list(batch.shape)}
    for name, speed in speeds.items():
        out[name] = speed.as_dict("tokens")
    out["ratio"] = {key: out["int8"][key] / out["fp32"][key] for key in out["fp32"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="Alternating rounds of forward timings.")
    parser.add_argument("--generate-rounds", type=int, default=5, help="Alternating rounds of generation timings.")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice).")
    parser.add_argument("--batch-size", type=int, default=None, help="Throughput batch (default: the recipe's).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the results to this JSON file.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    results = [measure(entry, args.rounds, args.generate_rounds, args.batch_size)
               for entry in ("char-gpt-small", "char-gpt")]
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {machine}, quantized engine {torch.backends.quantized.engine}")
    print("| architecture | weights | measure | fp32 | int8 | int8 / fp32 |")
    print("|---|---|---|---|---|---|")
    for result in results:
        for key in result["fp32"]:
            print(f"| {result['entry']} | {result['weights']:,} | {key} | {result['fp32'][key]:,.2f} | "
                  f"{result['int8'][key]:,.2f} | {result['ratio'][key]:.2f}x |")
    small = results[0]["ratio"]["generation_tokens_per_s"]
    verdict = "met" if small >= TARGET else f"missed by {TARGET - small:.2f}x"
    print(f"target: char-gpt-small int8 generation >= {TARGET}x fp32: {small:.2f}x ({verdict})")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "torch": torch.__version__, "results": results}, indent=2))


if __name__ == "__main__":
    main()
