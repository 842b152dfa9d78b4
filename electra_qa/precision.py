"""Numeric precision: which Keras dtype policy a model runs with, chosen per model, never globally.

``precision=`` accepts:

- ``"float32"``: float32 weights and compute (exact; the CPU default).
- ``"mixed_float16"`` / ``"mixed_bfloat16"``: float32 weights, half-precision matmuls (Keras mixed policies).
- ``"float16"`` / ``"bfloat16"``: half-precision weights and compute.
- ``"auto"``: from the device: an NVIDIA GPU of compute capability >= 7.0 gets ``"mixed_float16"``; anything else
  ``"float32"``.

Why float16 and not bfloat16 on Ampere/Hopper (>= 8.0), where both run at the same tensor-core rate: the NGC model
was trained with float16 AMP, so its activations fit float16's range, and float16's 10-bit mantissa rounds 8x finer
than bfloat16's 7 bits, which keeps the start/end log-probabilities closer to float32 (``tests/test_precision.py``
bounds both errors on the ngc_tiny fixture; BENCHMARKS.md has the figures on a trained model). GPU speed of each
policy: ``benchmarks/gpu_forward.py``. Whatever the policy, LayerNorm, the attention
softmax, the masks and the heads' (log-)softmax run in float32 and outputs are float32.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from electra_qa.errors import InputError

if TYPE_CHECKING:
    import keras

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16", "float16", "bfloat16")


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """The accelerator the current Keras backend would run on."""

    backend: str
    platform: str  # "gpu" or "cpu" (or "tpu")
    name: str
    compute_capability: tuple[int, int] | None = None

    @property
    def nvidia_gpu(self) -> bool:
        return self.platform == "gpu" and self.compute_capability is not None


def _parse_capability(value) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return int(value[0]), int(value[1])
    major, _, minor = str(value).partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return None


def detect_device() -> DeviceInfo:
    """The first accelerator of the active Keras backend, or the CPU."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return DeviceInfo(
                    backend,
                    "gpu",
                    details.get("device_name", gpus[0].name),
                    _parse_capability(details.get("compute_capability")),
                )
        elif backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform != "cpu":
                return DeviceInfo(
                    backend,
                    device.platform,
                    getattr(device, "device_kind", str(device)),
                    _parse_capability(getattr(device, "compute_capability", None)),
                )
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return DeviceInfo(
                    backend, "gpu", torch.cuda.get_device_name(0), tuple(torch.cuda.get_device_capability(0))
                )
    except Exception:  # a broken driver must not stop CPU inference
        pass
    return DeviceInfo(backend, "cpu", "cpu")


def auto_precision(device: DeviceInfo | None = None) -> str:
    """The precision "auto" stands for on ``device`` (default: the detected one)."""
    device = device or detect_device()
    if device.nvidia_gpu and device.compute_capability >= (7, 0):
        return "mixed_float16"
    return "float32"


def auto_reason(device: DeviceInfo) -> str:
    """Why "auto" picks what it picks on ``device`` (for bug reports: ``electra-qa env``)."""
    if device.nvidia_gpu and device.compute_capability >= (7, 0):
        return (
            f"an NVIDIA GPU of compute capability {device.compute_capability[0]}.{device.compute_capability[1]} "
            "(>= 7.0, tensor cores): mixed float16, as the NGC checkpoint was trained"
        )
    if device.platform == "gpu":
        return "a GPU without tensor cores (compute capability < 7.0, or unknown): float32"
    return f"no GPU visible to the {device.backend} backend: float32 (bfloat16 is an opt-in on CPUs with AMX)"


def dtype_policy(precision: str | None, device: DeviceInfo | None = None) -> keras.DTypePolicy:
    """The Keras dtype policy for ``precision`` (None means float32). Never touches the global policy."""
    import keras

    check_precision(precision)
    if precision is None:
        precision = "float32"
    if precision == "auto":
        precision = auto_precision(device)
    return keras.DTypePolicy(precision)


def check_precision(precision: str | None, dtype=None) -> None:
    """Raise InputError for an unknown ``precision`` or for both ``precision`` and ``dtype``; imports no backend."""
    if precision is not None and dtype is not None:
        raise InputError("pass precision= or dtype=, not both")
    if precision is not None and precision not in PRECISIONS:
        raise InputError(f"precision must be one of {PRECISIONS}, got {precision!r}")


def resolve_dtype(precision: str | None, dtype) -> object:
    """``dtype`` as given, else the policy for ``precision``; both given is an error."""
    check_precision(precision, dtype)
    return dtype if precision is None else dtype_policy(precision)


def describe(model) -> dict:
    """What runs where: backend, device, the model's dtype policy (variables/compute)."""
    device = detect_device()
    policy = model.dtype_policy
    return {
        "backend": device.backend,
        "device": device.name,
        "platform": device.platform,
        "compute_capability": device.compute_capability,
        "policy": policy.name,
        "variable_dtype": policy.variable_dtype,
        "compute_dtype": policy.compute_dtype,
        "outputs": "float32",
    }
