"""``torch.compile`` for commands that serve a model, with a fallback to eager mode.

torch.compile works only where PyTorch supports it: it needs a supported Python version
and, for its default CPU backend, a working C++ compiler. Commands such as ``zoo generate
--compile`` therefore try it, and on failure print one notice and run the model eagerly.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch

from zoo_registry import ZooError

__all__ = ["compile_forward", "describe_error", "quiet_compiler"]

log = logging.getLogger("zoo")


def describe_error(error: BaseException) -> str:
    """Return the error's type and the first line of its message."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


@contextmanager
def quiet_compiler() -> Iterator[None]:
    """Keep torch.compile's own warnings (such as a kept cache folder after a failure) off the terminal.

    A compile failure reaches the user as one notice line from zoo instead.
    """
    loggers = [logging.getLogger(name) for name in ("torch._dynamo", "torch._inductor")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


class _ForwardWithFallback:
    """The compiled forward of a module until its first failure, and the eager forward after that."""

    def __init__(self, eager: Callable[..., Any], compiled: Callable[..., Any], command: str):
        self.eager = eager
        self.compiled: Callable[..., Any] | None = compiled
        self.command = command

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is None:
            return self.eager(*args, **kwargs)
        try:
            with quiet_compiler():
                return self.compiled(*args, **kwargs)
        except ZooError:
            raise  # the model rejected its input; eager mode would reject it too
        except Exception as error:  # noqa: BLE001  (torch.compile raises many unrelated types)
            self.compiled = None
            log.warning("%s: torch.compile failed on this platform, running without it (%s)",
                        self.command, describe_error(error))
            return self.eager(*args, **kwargs)


def compile_forward(model: torch.nn.Module, command: str, method: str = "forward") -> bool:
    """Replace ``model.forward`` (or another ``method``) with a compiled version that falls back to eager mode.

    The module's other methods, such as ``generate``, then call the compiled version.
    Compilation happens on the first call. Returns False, after a notice naming ``command``,
    when this PyTorch cannot compile at all.

    Dynamic shapes are on from the start, because generation calls the forward with a new
    sequence length at every step and would otherwise compile once per length.
    """
    eager = getattr(model, method)
    try:
        compiled = torch.compile(eager, dynamic=True)
    except Exception as error:  # noqa: BLE001  (for example, Python versions that Dynamo does not support)
        log.warning("%s: torch.compile is not available here, running without it (%s)", command,
                    describe_error(error))
        return False
    setattr(model, method, _ForwardWithFallback(eager, compiled, command))
    return True
