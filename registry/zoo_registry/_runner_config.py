"""Options of the training runner, shared by every trainer (the ``train`` section)."""

from __future__ import annotations

from dataclasses import dataclass

from ._schema import option


@dataclass
class RunnerConfig:
    """Runner options: steps, batches, optimizer, schedule, precision and checkpoints."""

    max_steps: int = option(1000, help="Number of optimizer steps to train for.", min=1)
    batch_size: int = option(32, help="Examples per process per micro-batch.", min=1)
    grad_accum_steps: int = option(1, help="Micro-batches accumulated into one optimizer step.", min=1)
    lr: float = option(1e-3, help="Peak learning rate of AdamW.", min=0, min_exclusive=True)
    min_lr: float = option(1e-4, help="Learning rate at the end of the cosine decay.", min=0)
    warmup_steps: int = option(100, help="Steps of linear warmup from 0 to lr.", min=0)
    weight_decay: float = option(0.1, help="AdamW weight decay for weight matrices (not biases or norms).", min=0)
    beta1: float = option(0.9, help="AdamW beta1.", min=0, max=1, max_exclusive=True)
    beta2: float = option(0.99, help="AdamW beta2.", min=0, max=1, max_exclusive=True)
    grad_clip: float = option(1.0, help="Maximum gradient norm; 0 disables clipping.", min=0)
    mixed_precision: str = option("no", help="Autocast precision.", choices=("no", "bf16", "fp16"))
    eval_interval: int = option(250, help="Evaluate every this many steps (and at the end).", min=1)
    eval_batches: int = option(20, help="Validation batches per periodic evaluation; 0 uses the whole split.", min=0)
    final_eval_batches: int = option(0, help="Batches of each split in the final evaluation and in 'zoo eval'; 0 uses "
                                     "the whole split, which is what cards report.", min=0)
    checkpoint_interval: int = option(500, help="Write a checkpoint every this many steps; 0 disables.", min=0)
    log_interval: int = option(10, help="Log training loss every this many steps.", min=1)
    seed: int = option(1337, help="Seed of every random number generator of the run.")
    trackers: list[str] = option([], help="accelerate trackers to log to, such as tensorboard or wandb.")
