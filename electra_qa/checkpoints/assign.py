"""Strict weight loading shared by the checkpoint loaders: all weights or an error, never a partial model.

``build_from_checkpoint`` creates a model's variables straight from the stored arrays: one allocation and copy per
weight, no zero-filled model overwritten afterwards. ``check_fit`` compares keys and shapes for ``inspect_checkpoint``.
"""

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
        problem = _shape_mismatch(key, shapes[key], var.shape, key in transposed) if key in shapes else None
        if problem:
            mismatched.append(problem)
    return Fit(missing, unexpected, mismatched)


def _shape_mismatch(key: str, stored, model_shape, transposed: bool) -> str | None:
    """``"key: checkpoint (..), model (..)"`` when the stored array (axes swapped if ``transposed``) does not fit."""
    stored, model_shape = tuple(stored), tuple(model_shape)
    if (stored[::-1] if transposed else stored) == model_shape:
        return None
    return f"{key}: checkpoint {stored}, model {model_shape}" + (" (stored transposed)" if transposed else "")


def _numpy_dtype(name):
    if name == "bfloat16":  # numpy has no bfloat16; ml_dtypes (a Keras dependency) does
        import ml_dtypes

        return ml_dtypes.bfloat16
    return name


class Prefetcher:
    """Stored arrays converted to backend tensors (cast to ``dtype``, transposed where ``transposed(key)`` says) by
    one worker thread, in the order given: the copies run while the main thread constructs the Keras model.

    ``transposed`` is a guess from the stored key; ``get`` redoes a tensor whose orientation the model's layout
    decides otherwise. Use as a context manager, or call ``close``.
    """

    def __init__(self, keys, read: Callable[[str], np.ndarray], dtype: str,
                 transposed: Callable[[str], bool] = lambda key: False):
        import concurrent.futures

        self.read, self.dtype = read, dtype
        self._guess = {key: bool(transposed(key)) for key in keys}
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="electra_qa-load")
        self._futures = {key: self._pool.submit(self._convert, key, self._guess[key]) for key in keys}

    def _convert(self, key, transposed):
        from keras import ops

        value = np.asarray(self.read(key), dtype=_numpy_dtype(self.dtype))
        # The backend's transpose is ~4x faster than numpy's strided copy.
        return ops.transpose(value) if transposed else ops.convert_to_tensor(value)

    def get(self, key: str, transposed: bool, dtype: str | None = None):
        future = self._futures.pop(key, None)
        if future is not None and self._guess[key] == transposed:
            value = future.result()
        else:
            value = self._convert(key, transposed)
        if dtype is not None and dtype != self.dtype:
            from keras import ops

            value = ops.cast(value, dtype)
        return value

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._futures.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _StoredValue:
    """Keras initializer that returns the checkpoint's array for ``key``; a shape mismatch is recorded (and zeros
    returned) so that ``build_from_checkpoint`` can name every mismatch at once."""

    def __init__(self, key: str, stored_shape: tuple, transposed: bool, prefetcher: Prefetcher, mismatched: list):
        self.key, self.stored_shape, self.transposed = key, tuple(stored_shape), transposed
        self.prefetcher, self.mismatched = prefetcher, mismatched
        self.used = False

    def __call__(self, shape, dtype=None):
        problem = _shape_mismatch(self.key, self.stored_shape, shape, self.transposed)
        if problem:
            self.mismatched.append(problem)
            return np.zeros(shape, _numpy_dtype(dtype))  # the model is discarded: the loader raises after build
        self.used = True
        return self.prefetcher.get(self.key, self.transposed, dtype)


def build_from_checkpoint(model, slots: Mapping[str, tuple], shapes: Mapping[str, tuple], prefetcher: Prefetcher,
                          source: str, transposed: frozenset | set = frozenset()) -> None:
    """Build the unbuilt ``model`` with every variable created from its stored array.

    ``slots`` maps checkpoint keys to ``(layer, weight attribute)`` (``layout.keyed_slots``): the layer's
    ``<attribute>_initializer`` returns the stored array (from ``prefetcher``) while ``model.build()`` runs and is
    restored afterwards. One allocation and copy per weight: no zero-filled variables overwritten later.
    Raises CheckpointError naming every missing, unexpected and mis-shaped key; the model is then not usable.
    """
    missing = sorted(k for k in slots if k not in shapes)
    unexpected = sorted(k for k in shapes if k not in slots)
    if missing or unexpected:
        model.build()  # zeros, only to report shape mismatches along with the missing/unexpected keys
        variables = {k: getattr(layer, attr) for k, (layer, attr) in slots.items()}
        raise CheckpointError(f"{source} does not fit the model: {check_fit(variables, shapes, transposed).problems()}")
    mismatched: list[str] = []
    installed = []
    try:
        for key, (layer, attr) in slots.items():
            initializer = _StoredValue(key, shapes[key], key in transposed, prefetcher, mismatched)
            installed.append((layer, attr + "_initializer", getattr(layer, attr + "_initializer"), initializer))
            setattr(layer, attr + "_initializer", initializer)
        model.build()
    finally:
        for layer, name, original, _ in installed:
            setattr(layer, name, original)
    if mismatched:
        raise CheckpointError(f"{source} does not fit the model: {Fit([], [], mismatched).problems()}")
    used = sum(initializer.used for *_, initializer in installed)
    if used != len(slots) or len(model.weights) != len(slots):
        raise RuntimeError(f"internal error: {len(model.weights)} model variables, {len(slots)} named by the layout, "
                           f"{used} created from the checkpoint")
