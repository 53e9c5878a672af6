"""Wall time of the metadata commands beside importing torch, measured in one run.

`zoo list` and `zoo plugins` must not import torch; this script shows what
that buys. Each command runs in a fresh interpreter several times and the
median is reported, so the numbers include interpreter start-up.

    ./dev python benchmarks/cli_startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "zoo list": [sys.executable, "-m", "zoo", "list"],
    "zoo plugins": [sys.executable, "-m", "zoo", "plugins"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
}


def measure(command: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs per command")
    args = parser.parse_args()
    results = {name: measure(command, args.repeats) for name, command in COMMANDS.items()}
    torch_median = statistics.median(results['python -c "import torch"'])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"| command | median (s) | min (s) | vs import torch |")
    print("|---|---|---|---|")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"| `{name}` | {median:.3f} | {min(times):.3f} | {median / torch_median:.2f}x |")


if __name__ == "__main__":
    main()
