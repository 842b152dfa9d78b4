"""Strict weight assignment shared by the checkpoint loaders: all weights or an error, never a partial model."""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from electra_qa.errors import CheckpointError

_MAX_LISTED = 12


def _listing(items) -> str:
    items = sorted(items)
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f", ... ({len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else "")


def assign_strict(variables: Mapping[str, object], shapes: Mapping[str, tuple], read: Callable[[str], np.ndarray],
                  source: str, transforms: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None) -> None:
    """Load ``read(key)`` into ``variables[key]`` for every key, after checking that the two sides fit exactly.

    ``variables`` maps checkpoint keys to Keras variables; ``shapes`` maps every model-weight key the checkpoint
    holds to its stored shape; ``transforms`` (optional) turns a stored array into the variable's layout (e.g. a
    transpose), and the shape check applies to the transformed shape. Raises CheckpointError naming every missing,
    unexpected and mis-shaped key before anything is assigned.
    """
    transforms = transforms or {}
    missing = [k for k in variables if k not in shapes]
    unexpected = [k for k in shapes if k not in variables]
    mismatched = []
    for key, var in variables.items():
        if key not in shapes:
            continue
        stored = tuple(shapes[key])
        if key in transforms:
            stored = transforms[key](np.empty(stored, dtype=np.uint8)).shape
        if tuple(stored) != tuple(var.shape):
            mismatched.append(f"{key}: checkpoint {tuple(shapes[key])}, model {tuple(var.shape)}")
    problems = []
    if missing:
        problems.append(f"missing from the checkpoint ({len(missing)}): {_listing(missing)}")
    if unexpected:
        problems.append(f"in the checkpoint but not in the model ({len(unexpected)}): {_listing(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatch ({len(mismatched)}): {_listing(mismatched)}")
    if problems:
        raise CheckpointError(f"{source} does not fit the model: " + "; ".join(problems))
    for key, var in variables.items():
        value = read(key)
        if key in transforms:
            value = transforms[key](value)
        var.assign(np.asarray(value, dtype=var.dtype))
