"""Training throughput of zoo's runner against a minimal hand-written PyTorch loop.

Both train the same model (built from the same recipe and seed) on the same
batches (the runner's sampler indices) with the same AdamW, schedule and
gradient clipping. The runner adds accelerate, logging, the progress reporter
and the periodic-evaluation bookkeeping; the target is that they cost at most
5% (runner tokens/s >= 0.95 x the loop's). Evaluation and checkpoints are
switched off in both so only training steps are timed. The two are run in
alternation, ``--rounds`` times each, and the median tokens/s is compared.

Also measures GPT generation with and without the KV cache at ``--new-tokens``.

    ./dev python benchmarks/runner_throughput.py [--entry char-gpt] [--steps 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from zoo.runner._build import block_size_of, build_parts
from zoo.runner._sampling import StepSampler
from zoo.runner._schedule import lr_at, make_optimizer
from zoo.runner._train import train
from zoo_registry import get_registry, load_recipe, resolve_entry


def hand_loop(recipe, steps: int) -> float:
    """Train with a plain loop; return tokens per second."""
    config = recipe.runner
    torch.manual_seed(config.seed)
    parts = build_parts(recipe)
    split = parts.dataset.split("train", block_size_of(recipe))
    sampler = StepSampler(len(split), config.batch_size, 1, 1, 0, config.seed)
    model = parts.model
    optimizer = make_optimizer(model, config)
    model.train()
    start = time.perf_counter()
    tokens = 0
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        x, y = parts.dataset.collate([split[i] for i in sampler.indices(step, 0)])
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += y.numel()
    return tokens / (time.perf_counter() - start)


def runner_loop(entry, steps: int) -> float:
    """Train with zoo's runner; return tokens per second of the training steps.

    The runner's final evaluation (cut to one batch here) runs after its timer stops.
    """
    overrides = [f"train.max_steps={steps}", f"train.eval_interval={steps + 1}", "train.checkpoint_interval=0",
                 "train.final_eval_batches=1",
                 f"train.log_interval={max(steps // 10, 1)}"]
    recipe = load_recipe(entry.recipe_path, get_registry(), overrides)
    with tempfile.TemporaryDirectory() as run_dir:
        result = train(recipe, Path(run_dir), resume=False)
    return result.units / result.elapsed_s


def generation(entry, new_tokens: int, rounds: int) -> dict[str, float]:
    """Return the median tokens/s of sampling ``new_tokens`` tokens with and without the KV cache.

    The two paths alternate within each round, after one untimed warm-up call of each.
    """
    recipe = load_recipe(entry.recipe_path, get_registry())
    torch.manual_seed(0)
    model = build_parts(recipe).model.eval()
    samples: dict[str, list[float]] = {"uncached": [], "cached": []}
    for round_index in range(rounds + 1):
        for use_cache in (False, True):
            generator = torch.Generator().manual_seed(0)
            idx = torch.zeros((1, 1), dtype=torch.long)
            start = time.perf_counter()
            model.generate(idx, new_tokens, temperature=1.0, generator=generator, use_cache=use_cache)
            if round_index:
                samples["cached" if use_cache else "uncached"].append(new_tokens / (time.perf_counter() - start))
    return {path: statistics.median(values) for path, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entry", default="char-gpt")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=500)
    parser.add_argument("--generation-only", action="store_true", help="skip the training comparison")
    args = parser.parse_args()

    entry = resolve_entry(get_registry(), args.entry)
    recipe = load_recipe(entry.recipe_path, get_registry())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; entry {args.entry}, {args.steps} steps x {args.rounds} rounds")
    if not args.generation_only:
        training_part(entry, recipe, args)
    rates = generation(entry, args.new_tokens, args.rounds)
    print(f"\ngeneration, {args.new_tokens} new tokens, batch 1, untrained weights, median of {args.rounds}:")
    print(f"| path | tokens/s |\n|---|---|\n| without KV cache | {rates['uncached']:,.0f} |\n"
          f"| with KV cache | {rates['cached']:,.0f} |")
    print(f"ratio cached / uncached: {rates['cached'] / rates['uncached']:.2f}")


def training_part(entry, recipe, args: argparse.Namespace) -> None:
    """Print the table of runner and hand-written loop tokens/s."""
    hand, runner = [], []
    for _ in range(args.rounds):
        hand.append(hand_loop(recipe, args.steps))
        runner.append(runner_loop(entry, args.steps))
    print("| loop | tokens/s (median) | all rounds |")
    print("|---|---|---|")
    print(f"| hand-written PyTorch | {statistics.median(hand):,.0f} | {', '.join(f'{r:,.0f}' for r in hand)} |")
    print(f"| zoo runner | {statistics.median(runner):,.0f} | {', '.join(f'{r:,.0f}' for r in runner)} |")
    print(f"ratio runner / hand-written: {statistics.median(runner) / statistics.median(hand):.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
