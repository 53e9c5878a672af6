"""Learning-rate schedule and optimizer construction."""

from __future__ import annotations

import math

import torch

from zoo_registry import RunnerConfig


def lr_at(step: int, config: RunnerConfig) -> float:
    """Return the learning rate of optimizer step ``step``: linear warmup, then cosine decay to ``min_lr``."""
    if config.warmup_steps and step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    decay_steps = max(config.max_steps - config.warmup_steps, 1)
    progress = min((step - config.warmup_steps) / decay_steps, 1.0)
    return config.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (config.lr - config.min_lr)


def make_optimizer(model: torch.nn.Module, config: RunnerConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and embeddings only, not on biases and norm weights."""
    decay, no_decay = [], []
    seen: set[int] = set()
    for parameter in model.parameters():
        if not parameter.requires_grad or id(parameter) in seen:
            continue
        seen.add(id(parameter))
        (decay if parameter.dim() >= 2 else no_decay).append(parameter)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2))
