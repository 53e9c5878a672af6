"""The mapping between zoo's GPT and the GPT-2 layout of transformers: config fields and weight names.

zoo's GPT keeps nanoGPT's module names, which are GPT-2's names, so the state
dicts differ in three ways only. GPT-2 stores the attention and MLP matrices
as ``Conv1D`` weights ``[in, out]``, where ``nn.Linear`` stores ``[out, in]``.
GPT-2 always has biases, which a bias-free zoo GPT exports as zeros. A tied
``lm_head.weight`` is left out of the file, as ``save_pretrained`` does.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from zoo_registry import Problem, ValidationError

GPT2_MODEL_TYPE = "gpt2"
GPT2_ARCHITECTURE = "GPT2LMHeadModel"
# nn.LayerNorm's default epsilon, which zoo's GPT uses.
LAYER_NORM_EPSILON = 1e-5
# zoo's GPT activations (its ``activation`` option) under their transformers names. The exact
# erf GELU is "gelu"; GPT-2's tanh approximation is "gelu_new", and "gelu_pytorch_tanh" is the
# same function through PyTorch's kernel.
ACTIVATIONS = {"gelu": "gelu", "gelu_tanh": "gelu_new"}
_IMPORTED_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"}
# Matrices that GPT-2 stores transposed (Conv1D, [in, out]).
_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
_BIASED = ("ln_1", "ln_2", "attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


def gpt2_config(options: Any, vocab_size: int) -> dict[str, Any]:
    """Return the ``config.json`` of a GPT-2 model with the shape of a zoo GPT's options."""
    return {
        "architectures": [GPT2_ARCHITECTURE],
        "model_type": GPT2_MODEL_TYPE,
        "vocab_size": vocab_size,
        "n_positions": options.block_size,
        "n_embd": options.d_model,
        "n_layer": options.n_layer,
        "n_head": options.n_head,
        "n_inner": None,
        "activation_function": ACTIVATIONS[getattr(options, "activation", "gelu")],
        "resid_pdrop": options.dropout,
        "embd_pdrop": options.dropout,
        "attn_pdrop": options.dropout,
        "layer_norm_epsilon": LAYER_NORM_EPSILON,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "add_cross_attention": False,
        "use_cache": True,
        "bos_token_id": None,
        "eos_token_id": None,
        "pad_token_id": None,
        "tie_word_embeddings": bool(options.tie_weights),
        "dtype": "float32",
    }


def to_gpt2_state(state: dict[str, torch.Tensor], n_layer: int, tie_weights: bool) -> dict[str, torch.Tensor]:
    """Return the GPT-2 tensors for a zoo GPT's ``state_dict``: transposed matrices, zero biases where it has none."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if name == "lm_head.weight" and tie_weights:
            continue
        if name.endswith(_CONV1D):
            tensor = tensor.t()
        out[name] = tensor.detach().contiguous()
    for layer in range(n_layer):
        for module in _BIASED:
            weight = f"transformer.h.{layer}.{module}.weight"
            bias = f"transformer.h.{layer}.{module}.bias"
            if bias not in out:
                # A weight [in, out] after the transpose has `out` entries in its last dimension.
                size = out[weight].shape[-1]
                out[bias] = torch.zeros(size, dtype=out[weight].dtype)
    if "transformer.ln_f.bias" not in out:
        out["transformer.ln_f.bias"] = torch.zeros_like(out["transformer.ln_f.weight"])
    return out


def from_gpt2_state(tensors: dict[str, torch.Tensor], bias: bool, tie_weights: bool) -> dict[str, torch.Tensor]:
    """Return a zoo GPT ``state_dict`` from GPT-2 tensors; ``bias=False`` drops the (all-zero) biases."""
    state: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        # Older checkpoints store the causal mask as a buffer ``attn.bias``/``attn.masked_bias``; zoo has none.
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue
        name = name if name.startswith(("transformer.", "lm_head.")) else f"transformer.{name}"
        if name.endswith(".bias") and not bias:
            continue
        if name.endswith(_CONV1D):
            tensor = tensor.t()
        state[name] = tensor.float().contiguous()
    if tie_weights and "transformer.wte.weight" in state:
        state["lm_head.weight"] = state["transformer.wte.weight"]
    return state


def has_only_zero_biases(tensors: dict[str, torch.Tensor]) -> bool:
    """Return True when every bias of the GPT-2 tensors is zero, as in an export of a bias-free zoo GPT."""
    biases = [t for name, t in tensors.items() if name.endswith(".bias") and not name.endswith(".attn.bias")]
    return bool(biases) and all(not torch.any(t) for t in biases)


def gpt_options_from_config(config: dict[str, Any], source: str) -> dict[str, Any]:
    """Return zoo GPT options for a GPT-2 ``config.json``; raise ``ValidationError`` listing what zoo's GPT lacks."""
    problems: list[Problem] = []

    def bad(field: str, message: str) -> None:
        problems.append(Problem(source, field, message))

    model_type = config.get("model_type")
    if model_type != GPT2_MODEL_TYPE:
        bad("model_type", f"is {model_type!r}; zoo imports GPT-2 checkpoints only (model_type 'gpt2', as "
                          f"GPT2LMHeadModel.save_pretrained writes it)")
    required = {}
    for field in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
        value = config.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            bad(field, f"is {value!r}; it must be a positive integer")
        else:
            required[field] = value
    if "n_embd" in required and "n_head" in required and required["n_embd"] % required["n_head"]:
        bad("n_embd", f"is {required['n_embd']}, which n_head={required['n_head']} does not divide")
    n_inner = config.get("n_inner")
    if n_inner is not None and "n_embd" in required and n_inner != 4 * required["n_embd"]:
        bad("n_inner", f"is {n_inner}; zoo's GPT has an MLP of 4 * n_embd = {4 * required['n_embd']} units")
    activation = config.get("activation_function", "gelu_new")
    if activation not in _IMPORTED_ACTIVATIONS:
        known = ", ".join(repr(name) for name in _IMPORTED_ACTIVATIONS)
        bad("activation_function", f"is {activation!r}; zoo's GPT supports {known}, so the logits of a model "
                                   f"trained with {activation!r} would differ")
    epsilon = config.get("layer_norm_epsilon", LAYER_NORM_EPSILON)
    if not isinstance(epsilon, (int, float)) or not math.isclose(epsilon, LAYER_NORM_EPSILON, rel_tol=1e-6):
        bad("layer_norm_epsilon", f"is {epsilon!r}; zoo's GPT uses {LAYER_NORM_EPSILON}")
    for field, expected in (("scale_attn_weights", True), ("scale_attn_by_inverse_layer_idx", False),
                            ("add_cross_attention", False)):
        value = config.get(field, expected)
        if value != expected:
            bad(field, f"is {value!r}; zoo's GPT supports only {expected}")
    if problems:
        raise ValidationError(problems)
    dropouts = [config.get(key, 0.0) or 0.0 for key in ("resid_pdrop", "embd_pdrop", "attn_pdrop")]
    return {
        "n_layer": required["n_layer"],
        "n_head": required["n_head"],
        "d_model": required["n_embd"],
        "block_size": required["n_positions"],
        # zoo's GPT has one dropout probability; it only matters for fine-tuning.
        "dropout": float(max(dropouts)),
        "tie_weights": bool(config.get("tie_word_embeddings", True)),
        "activation": _IMPORTED_ACTIVATIONS[activation],
    }
