"""``python -m zoo``, which ``accelerate launch -m zoo`` uses."""

from .cli import run

run()
