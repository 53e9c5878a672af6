"""Dynamic int8 quantization with plain-tensor storage.

PyTorch's dynamic quantized modules keep their weights in packed objects that
safetensors cannot store. The modules here keep int8 values, scales and zero
points as ordinary buffers, so an entry is a plain safetensors file, and pack
them for PyTorch's int8 kernels (fbgemm, x86, qnnpack) on first use. Weights
are quantized symmetrically (zero point 0), per output row by default;
activations are quantized per batch at run time, which is why these layers run
on the CPU only.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from zoo_registry import ZooError

from ._modules import architecture_name, embedding_parameters, matches, set_module
from .options import Int8DynamicOptions

__all__ = ["Int8Dynamic", "Int8Linear", "Int8RNN", "dequantize", "quantize_weight"]

_RNN_MODES = {nn.LSTM: "lstm", nn.GRU: "gru"}


@contextmanager
def _quiet_quantized_tensors():
    # NOTE: torch 2.13 warns that quantized tensor types are deprecated (pytorch/pytorch#184982); the
    # int8 kernels still take them as input. Replace the packing below once torch offers another API.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
        yield


def quantize_weight(weight: torch.Tensor, per_channel: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Quantize a float matrix [out, in] symmetrically; return int8 values, float32 scales and int64 zero points."""
    weight = weight.detach().float()
    amax = weight.abs().amax(dim=1) if per_channel else weight.abs().amax().reshape(1)
    # A row of zeros gets scale 1 so that it stays zero instead of dividing by zero.
    scale = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
    values = torch.round(weight / scale.unsqueeze(1)).clamp(-127, 127).to(torch.int8)
    return values, scale, torch.zeros_like(scale, dtype=torch.int64)


def dequantize(values: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor) -> torch.Tensor:
    """Return the float32 matrix that int8 ``values`` with per-row or per-matrix ``scale`` stand for."""
    return (values.float() - zero_point.float().unsqueeze(1)) * scale.float().unsqueeze(1)


def _quantized_tensor(values: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor) -> torch.Tensor:
    with _quiet_quantized_tensors():
        if scale.numel() == 1:
            return torch._make_per_tensor_quantized_tensor(values, float(scale), int(zero_point))
        return torch._make_per_channel_quantized_tensor(values, scale.double(), zero_point, 0)


def _require_cpu(tensor: torch.Tensor, module: str) -> None:
    if tensor.device.type != "cpu":
        raise ZooError(f"{module} is an int8-dynamic layer, which runs on the CPU only, but its input is on "
                       f"{tensor.device}; move the model to the CPU with model.cpu()")


class _PackedOnLoad(nn.Module):
    """Base of the int8 modules: drops the packed weights whenever new values are loaded."""

    def __init__(self) -> None:
        super().__init__()
        self._packed: Any = None

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._packed = None

    def _apply(self, fn, recurse=True):
        self._packed = None
        return super()._apply(fn, recurse)


class Int8Linear(_PackedOnLoad):
    """A Linear layer with int8 weights: ``weight_int8`` [out, in], ``weight_scale``, ``weight_zero_point``."""

    def __init__(self, in_features: int, out_features: int, bias: bool, per_channel: bool = True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        scales = out_features if per_channel else 1
        self.register_buffer("weight_int8", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(scales))
        self.register_buffer("weight_zero_point", torch.zeros(scales, dtype=torch.int64))
        self.bias = nn.Parameter(torch.zeros(out_features), requires_grad=False) if bias else None

    @classmethod
    def from_float(cls, linear: nn.Linear, per_channel: bool) -> "Int8Linear":
        module = cls(linear.in_features, linear.out_features, linear.bias is not None, per_channel)
        values, scale, zero_point = quantize_weight(linear.weight, per_channel)
        module.weight_int8.copy_(values)
        module.weight_scale.copy_(scale)
        module.weight_zero_point.copy_(zero_point)
        if linear.bias is not None:
            module.bias.data.copy_(linear.bias.detach().float())
        return module

    @property
    def weight(self) -> torch.Tensor:
        """The dequantized float32 weight [out, in], for code that reads ``layer.weight``."""
        return dequantize(self.weight_int8, self.weight_scale, self.weight_zero_point)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _require_cpu(x, "this Linear layer")
        if self._packed is None:
            bias = self.bias.detach().float() if self.bias is not None else None
            self._packed = torch.ops.quantized.linear_prepack(
                _quantized_tensor(self.weight_int8, self.weight_scale, self.weight_zero_point), bias)
        dtype = x.dtype
        # reduce_range keeps the activations in 7 bits, as torch's own dynamic Linear does, so the
        # x86 kernels' 16-bit intermediate sums cannot overflow.
        y = torch.ops.quantized.linear_dynamic(x.float(), self._packed, True)  # [..., out]
        return y if dtype == torch.float32 else y.to(dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Int8RNN(_PackedOnLoad):
    """An LSTM or GRU with int8 weight matrices, the same call signature and the same state-dict names plus suffixes."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int, batch_first: bool,
                 dropout: float, bidirectional: bool, per_channel: bool = True):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        gates = 4 if mode == "lstm" else 3
        for name, columns in self._matrices():
            rows = gates * hidden_size
            scales = rows if per_channel else 1
            self.register_buffer(f"{name}_int8", torch.zeros(rows, columns, dtype=torch.int8))
            self.register_buffer(f"{name}_scale", torch.ones(scales))
            self.register_buffer(f"{name}_zero_point", torch.zeros(scales, dtype=torch.int64))
            bias = name.replace("weight", "bias", 1)
            setattr(self, bias, nn.Parameter(torch.zeros(rows), requires_grad=False))

    def _matrices(self) -> list[tuple[str, int]]:
        """Return (weight name, input columns) of every weight matrix, in nn.LSTM's naming."""
        directions = 2 if self.bidirectional else 1
        out = []
        for layer in range(self.num_layers):
            for direction in range(directions):
                suffix = "_reverse" if direction else ""
                columns = self.input_size if layer == 0 else self.hidden_size * directions
                out.append((f"weight_ih_l{layer}{suffix}", columns))
                out.append((f"weight_hh_l{layer}{suffix}", self.hidden_size))
        return out

    @classmethod
    def from_float(cls, rnn: nn.LSTM | nn.GRU, per_channel: bool) -> "Int8RNN":
        module = cls(_RNN_MODES[type(rnn)], rnn.input_size, rnn.hidden_size, rnn.num_layers, rnn.batch_first,
                     rnn.dropout, rnn.bidirectional, per_channel)
        for name, _ in module._matrices():
            values, scale, zero_point = quantize_weight(getattr(rnn, name), per_channel)
            getattr(module, f"{name}_int8").copy_(values)
            getattr(module, f"{name}_scale").copy_(scale)
            getattr(module, f"{name}_zero_point").copy_(zero_point)
            bias = name.replace("weight", "bias", 1)
            getattr(module, bias).data.copy_(getattr(rnn, bias).detach().float())
        return module

    def _cell_params(self) -> list[Any]:
        cells = []
        matrices = [name for name, _ in self._matrices()]
        for ih, hh in zip(matrices[0::2], matrices[1::2]):
            packed = []
            for name in (ih, hh):
                weight = _quantized_tensor(getattr(self, f"{name}_int8"), getattr(self, f"{name}_scale"),
                                           getattr(self, f"{name}_zero_point"))
                packed.append(torch.ops.quantized.linear_prepack(weight, getattr(self, name.replace("weight", "bias", 1)).detach()))
            b_ih = getattr(self, ih.replace("weight", "bias", 1)).detach()
            b_hh = getattr(self, hh.replace("weight", "bias", 1)).detach()
            cells.append(torch.ops.quantized.make_quantized_cell_params_dynamic(packed[0], packed[1], b_ih, b_hh, True))
        return cells

    def forward(self, input: torch.Tensor, hx: Any = None) -> tuple[torch.Tensor, Any]:
        _require_cpu(input, f"this {self.mode.upper()}")
        if self._packed is None:
            self._packed = self._cell_params()
        dtype = input.dtype
        input = input.float()
        if hx is None:
            batch = input.size(0) if self.batch_first else input.size(1)
            zeros = torch.zeros(self.num_layers * (2 if self.bidirectional else 1), batch, self.hidden_size)
            hx = (zeros, zeros) if self.mode == "lstm" else zeros
        if self.mode == "lstm":
            output, h, c = torch.quantized_lstm(input, tuple(t.float() for t in hx), self._packed, True,
                                                self.num_layers, self.dropout, False, self.bidirectional,
                                                self.batch_first, dtype=torch.qint8, use_dynamic=True)
            return output.to(dtype), (h, c)
        output, h = torch.quantized_gru(input, hx.float(), self._packed, True, self.num_layers, self.dropout, False,
                                        self.bidirectional, self.batch_first)
        return output.to(dtype), h

    def extra_repr(self) -> str:
        return (f"{self.mode}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}, bidirectional={self.bidirectional}")


class Int8Dynamic:
    """The ``int8-dynamic`` compressor."""

    def __init__(self, options: Int8DynamicOptions):
        self.options = options

    def _targets(self, model: nn.Module) -> list[tuple[str, nn.Module]]:
        kinds = set(self.options.layers)
        # An output layer tied to an embedding stays in floating point: the embedding keeps the
        # float weight anyway, and a second, int8 copy would make the entry larger.
        shared = embedding_parameters(model)
        found = []
        for name, module in model.named_modules():
            if not name or matches(name, self.options.skip):
                continue
            if type(module) is nn.Linear and "linear" in kinds and id(module.weight) not in shared:
                found.append((name, module))
            elif type(module) in _RNN_MODES and _RNN_MODES[type(module)] in kinds:
                found.append((name, module))
        return found

    def check(self, model: nn.Module, info: dict[str, Any]) -> None:
        """Raise ``ZooError`` when the model has nothing this compressor can quantize, or a layer it cannot."""
        if not torch.backends.quantized.supported_engines or torch.backends.quantized.engine == "none":
            raise ZooError("int8-dynamic needs PyTorch's int8 CPU kernels, but this torch build has no quantized "
                           "engine; install a CPU build of torch for x86 or ARM")
        targets = self._targets(model)
        if not targets:
            raise ZooError(
                f"int8-dynamic found no layer to quantize in {architecture_name(model)}: it quantizes nn.Linear, "
                f"nn.LSTM and nn.GRU layers (options layers={self.options.layers}, skip={self.options.skip}); "
                f"use another compressor such as half, or change layers and skip")
        for name, module in targets:
            if isinstance(module, (nn.LSTM, nn.GRU)) and (not module.bias or getattr(module, "proj_size", 0)):
                raise ZooError(f"int8-dynamic cannot quantize {name} ({type(module).__name__} with "
                               f"bias={module.bias}, proj_size={getattr(module, 'proj_size', 0)}): PyTorch's int8 "
                               f"recurrent kernels need biases and no projection; add {name!r} to skip")

    def apply(self, model: nn.Module, context: Any = None) -> nn.Module:
        """Replace every target layer by its int8 version, quantizing the trained weights."""
        model = model.cpu()
        for name, module in self._targets(model):
            if isinstance(module, nn.Linear):
                set_module(model, name, Int8Linear.from_float(module, self.options.per_channel))
            else:
                set_module(model, name, Int8RNN.from_float(module, self.options.per_channel))
        return model.eval()

    def restore(self, model: nn.Module, info: dict[str, Any]) -> nn.Module:
        """Replace every target layer by an empty int8 layer of the same shape, ready for ``load_state_dict``."""
        return self.apply(model)
