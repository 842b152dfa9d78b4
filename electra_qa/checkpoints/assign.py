"""Strict weight assignment shared by the checkpoint loaders: all weights or an error, never a partial model."""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import numpy as np

from electra_qa.errors import CheckpointError

_MAX_LISTED = 12


def _listing(items) -> str:
    items = sorted(items)
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f", ... ({len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else "")


@dataclasses.dataclass
class Fit:
    """How a checkpoint's keys meet a model's variables."""

    missing: list[str]       # the model needs them, the checkpoint lacks them
    unexpected: list[str]    # model-weight keys in the checkpoint that the model has no place for
    mismatched: list[str]    # "key: checkpoint shape, model shape"

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def problems(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"missing from the checkpoint ({len(self.missing)}): {_listing(self.missing)}")
        if self.unexpected:
            parts.append(f"in the checkpoint but not in the model ({len(self.unexpected)}): "
                         f"{_listing(self.unexpected)}")
        if self.mismatched:
            parts.append(f"shape mismatch ({len(self.mismatched)}): {_listing(self.mismatched)}")
        return "; ".join(parts)


def check_fit(variables: Mapping[str, object], shapes: Mapping[str, tuple],
              transposed: frozenset | set = frozenset()) -> Fit:
    """Compare checkpoint keys/shapes with ``variables`` (checkpoint key -> variable); ``transposed`` keys are
    stored with their two axes swapped."""
    missing = sorted(k for k in variables if k not in shapes)
    unexpected = sorted(k for k in shapes if k not in variables)
    mismatched = []
    for key, var in variables.items():
        if key not in shapes:
            continue
        stored = tuple(shapes[key])
        fitted = stored[::-1] if key in transposed else stored
        if fitted != tuple(var.shape):
            mismatched.append(f"{key}: checkpoint {stored}, model {tuple(var.shape)}"
                              + (" (stored transposed)" if key in transposed else ""))
    return Fit(missing, unexpected, mismatched)


def _numpy_dtype(name):
    if name == "bfloat16":  # numpy has no bfloat16; ml_dtypes (a Keras dependency) does
        import ml_dtypes

        return ml_dtypes.bfloat16
    return name


def assign_strict(variables: Mapping[str, object], shapes: Mapping[str, tuple], read: Callable[[str], np.ndarray],
                  source: str, transposed: frozenset | set = frozenset()) -> None:
    """Load ``read(key)`` into ``variables[key]`` for every key, after checking that the two sides fit exactly.

    ``shapes`` maps every model-weight key the checkpoint holds to its stored shape. Raises CheckpointError naming
    every missing, unexpected and mis-shaped key before anything is assigned.
    """
    fit = check_fit(variables, shapes, transposed)
    if not fit.ok:
        raise CheckpointError(f"{source} does not fit the model: {fit.problems()}")
    from keras import ops

    for key, var in variables.items():
        value = np.asarray(read(key), dtype=_numpy_dtype(var.dtype))
        if key in transposed:
            value = ops.transpose(value)  # the backend's transpose is ~4x faster than numpy's strided copy
        var.assign(value)
