"""digits-cnn and digits-resnet trained through ``zoo train``, beside scikit-learn's SVC on the same split.

Each entry is trained by the real command in a fresh interpreter with an
empty store, once per ``--seeds`` value (``train.seed=<seed>``), and the test
accuracy and parameter count are read from the card that the run publishes.
Wall time is that of the whole command: interpreter start, data loading,
training, evaluation and publishing. The targets for digits-cnn are a test
accuracy of at least 0.98 and a wall time under 60 s on 2 CPU cores.

The peer is scikit-learn's RBF-kernel SVC, fitted on the same training split
(normalized the same way) and scored on the same 359 test images, timed in the
same run.

On a machine shared with other jobs, torch's default of one thread per core
made these small models many times slower than one thread in our runs;
``--threads 1`` shows the difference.

    ./dev python benchmarks/vision_digits.py [--entries digits-cnn digits-resnet] [--seeds 1337 1 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from zoo_vision.digits import DigitsDataset
from zoo_vision.options import DigitsOptions


def train_entry(entry: str, seed: int | None, threads: int | None) -> dict:
    """Run ``zoo train`` with an empty store; return wall time and the published card's numbers."""
    with tempfile.TemporaryDirectory() as home:
        overrides = [f"train.seed={seed}"] if seed is not None else []
        environment = {**os.environ, "ZOO_HOME": home}
        if threads is not None:
            environment["OMP_NUM_THREADS"] = str(threads)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "zoo", "train", entry, *overrides], env=environment,
                                capture_output=True, text=True)
        wall = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"zoo train {entry} failed:\n{result.stderr}")
        card = (Path(home) / "entries" / entry / "v1" / "README.md").read_text(encoding="utf-8")
    zoo = yaml.safe_load(card.split("---")[1])["zoo"]
    return {"wall_s": wall, "training_s": zoo["lineage"]["training_time_s"], "parameters": zoo["parameters"],
            "test_accuracy": zoo["metrics"]["test_accuracy"], "val_accuracy": zoo["metrics"]["val_accuracy"]}


def svc_peer() -> dict:
    """Fit scikit-learn's SVC on the digits training split; return its test accuracy and fit time."""
    from sklearn.svm import SVC

    dataset = DigitsDataset(DigitsOptions())

    def arrays(name: str):
        split = dataset.split(name)
        images = torch.stack([split[i][0] for i in range(len(split))])
        return images.flatten(1).numpy(), split.labels.numpy()

    train_x, train_y = arrays("train")
    test_x, test_y = arrays("test")
    start = time.perf_counter()
    classifier = SVC(C=10.0, gamma="scale").fit(train_x, train_y)
    accuracy = float((classifier.predict(test_x) == test_y).mean())
    return {"fit_s": time.perf_counter() - start, "test_accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", nargs="+", default=["digits-cnn", "digits-resnet"])
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="Values of train.seed; one run each. Default: the recipe's seed only.")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS of the training processes. Default: torch's choice (one per core).")
    args = parser.parse_args()
    seeds = args.seeds or [None]

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"threads {args.threads or 'default'}, load average before: {os.getloadavg()[0]:.1f}")
    print("| entry | seed | parameters | test accuracy | val accuracy | training (s) | wall of zoo train (s) |")
    print("|---|---|---|---|---|---|---|")
    results: dict[str, list[dict]] = {}
    for entry in args.entries:
        for seed in seeds:
            run = train_entry(entry, seed, args.threads)
            results.setdefault(entry, []).append(run)
            print(f"| {entry} | {seed if seed is not None else 'recipe'} | {run['parameters']:,} | "
                  f"{run['test_accuracy']:.4f} | {run['val_accuracy']:.4f} | {run['training_s']:.1f} | "
                  f"{run['wall_s']:.1f} |", flush=True)

    peer = svc_peer()
    print(f"\npeer: scikit-learn SVC (RBF, C=10) on the same split: test accuracy {peer['test_accuracy']:.4f}, "
          f"fit {peer['fit_s']:.2f} s")
    for entry, runs in results.items():
        accuracies = [r["test_accuracy"] for r in runs]
        walls = [r["wall_s"] for r in runs]
        print(f"{entry}: test accuracy min {min(accuracies):.4f}, median {statistics.median(accuracies):.4f}; "
              f"wall median {statistics.median(walls):.1f} s; accuracy minus SVC's "
              f"{statistics.median(accuracies) - peer['test_accuracy']:+.4f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
