"""Strict weight loading shared by every format: all weights or an error, never a partial model.

``load_source`` builds the model for an opened ``Source``: ``build_from_checkpoint`` creates its variables straight
from the stored arrays (copied ahead by a ``Prefetcher``): one host copy per weight (two for a kernel stored
transposed), no zero-filled model overwritten afterwards. ``check_fit`` compares keys and shapes for
``inspect_checkpoint``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from typing import Callable, Mapping

import numpy as np

from electra_qa.checkpoints.readers.aligned import ALIGN, aligned_empty, is_aligned_copy
from electra_qa.checkpoints.readers.dtypes import numpy_dtype
from electra_qa.checkpoints.slots import keyed_slots
from electra_qa.checkpoints.source import Source
from electra_qa.config import AMP_END_MASK_VALUE, ElectraConfig
from electra_qa.errors import CheckpointError
from electra_qa.precision import resolve_dtype

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
    errors: list[str] = dataclasses.field(default_factory=list)  # unreadable or corrupt data (``validate``)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched or self.errors)

    def problems(self) -> str:
        parts = list(self.errors)
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


def aligned_copy(array: np.ndarray, dtype=None) -> np.ndarray:
    """A writable, C-contiguous, 64-byte-aligned copy of ``array`` in native byte order, cast to ``dtype`` if
    given."""
    out = aligned_empty(array.shape, dtype or array.dtype)
    np.copyto(out, array, casting="unsafe")
    return out


def checked_weight(key: str, array: np.ndarray) -> np.ndarray:
    """``array`` if it can be a model weight: a floating-point type and only finite values; else CheckpointError
    naming the tensor (a NaN or an infinity in a weight makes every answer empty; an integer weight is corruption)."""
    if array.dtype.kind != "f" and array.dtype.name != "bfloat16":
        raise CheckpointError(f"checkpoint tensor {key!r} is stored as {array.dtype.name}, not a floating-point type; "
                              "the checkpoint is corrupt or not a model's weights")
    if not np.isfinite(array).all():
        raise CheckpointError(f"checkpoint tensor {key!r} holds NaN or infinite values; the checkpoint is corrupt")
    return array


_SHAREABLE = frozenset(("float16", "float32", "float64", "int32", "int64"))


def to_backend(array: np.ndarray):
    """``array`` (from ``aligned_copy``) as a backend tensor. On TensorFlow the tensor uses the array's memory
    (DLPack), and a variable created from it keeps that buffer: the weights are copied once, by ``aligned_copy``,
    instead of once more by ``convert_to_tensor``. Other backends convert as usual."""
    from keras import backend, ops

    if (backend.backend() == "tensorflow" and array.dtype.name in _SHAREABLE and array.flags.c_contiguous
            and array.flags.writeable and array.ctypes.data % ALIGN == 0):
        import tensorflow as tf

        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return ops.convert_to_tensor(array)


def _transposed(array: np.ndarray):
    from keras import ops

    return ops.transpose(to_backend(array))  # the backend's transpose is several times faster than numpy's


class Prefetcher:
    """Stored arrays copied into aligned host arrays (``aligned_copy``) by one worker thread, in the order given.
    The copies need no backend: a loader starts them before Keras and TensorFlow are imported, and they run while
    the main thread imports them. The arrays stored transposed (``transposed(key)``) are then transposed by the
    backend, once the loader calls ``backend_ready()``, while the main thread constructs the model.

    ``transposed`` is a guess from the stored key; ``get`` redoes an array whose orientation the model's layout
    decides otherwise. Use as a context manager, or call ``close``.
    """

    def __init__(self, keys, read: Callable[[str], np.ndarray], transposed: Callable[[str], bool] = lambda key: False,
                 fresh: bool = False):
        import concurrent.futures
        import threading

        self.read = read
        self.fresh = fresh  # read() returns a new array each call, which may become the weight's memory
        self._backend = threading.Event()
        self._closed = False
        self._guess = {key: bool(transposed(key)) for key in keys}
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="electra_qa-load")
        self._futures = {}
        # With the backend still to be imported, all copies go first and the transposes wait at the end of the
        # queue; otherwise each transpose follows its copy, in the order the model is built.
        interleaved = "keras" in sys.modules
        for key in keys:
            self._futures[key] = self._pool.submit(self._copy, key)
            if interleaved and self._guess[key]:
                self._queue_transpose(key)
        for key in keys:
            if not interleaved and self._guess[key]:
                self._queue_transpose(key)

    def _queue_transpose(self, key):
        self._futures[key] = self._pool.submit(self._transpose, self._futures[key])

    def backend_ready(self):
        """Let the worker transpose: the main thread has imported the backend (the worker never imports it)."""
        self._backend.set()

    def _copy(self, key):
        array = np.asarray(self.read(key))
        kept = self.fresh and is_aligned_copy(array)  # read straight into its own aligned array: no second copy
        return checked_weight(key, array if kept else aligned_copy(array))

    def _transpose(self, copied):
        self._backend.wait()
        if self._closed:  # closed before the backend was imported (an error): import nothing, transpose nothing
            return None
        return _transposed(copied.result())

    def get(self, key: str, transposed: bool, dtype: str | None = None):
        """The stored array for ``key`` as a backend tensor (its axes swapped with ``transposed``), cast to
        ``dtype``."""
        self.backend_ready()
        future = self._futures.pop(key, None)
        if future is not None and self._guess[key] == transposed:
            value = future.result()
        else:
            value = self._copy(key)
            value = _transposed(value) if transposed else value
        if isinstance(value, np.ndarray):
            if dtype is not None and value.dtype.name != dtype:
                value = aligned_copy(value, dtype=numpy_dtype(dtype))
            return to_backend(value)
        from keras import backend, ops

        return value if dtype is None or backend.standardize_dtype(value.dtype) == dtype else ops.cast(value, dtype)

    def close(self):
        self._closed = True
        self._backend.set()
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
            return np.zeros(shape, numpy_dtype(dtype))  # the model is discarded: the loader raises after build
        self.used = True
        return self.prefetcher.get(self.key, self.transposed, dtype)


def build_from_checkpoint(model, slots: Mapping[str, tuple], shapes: Mapping[str, tuple], prefetcher: Prefetcher,
                          source: str, transposed: frozenset | set = frozenset()) -> None:
    """Build the unbuilt ``model`` with every variable created from its stored array.

    ``slots`` maps checkpoint keys to ``(layer, weight attribute)`` (``layout.keyed_slots``): the layer's
    ``<attribute>_initializer`` returns the stored array (from ``prefetcher``) while ``model.build()`` runs and is
    restored afterwards. No zero-filled variables are overwritten later.
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


# ----------------------------------------------------------------------------------------------- a Source to a model


def empty_model(config: ElectraConfig, head: str, *, version_2: bool = False, beam_size: int = 4,
                end_mask_value: float = AMP_END_MASK_VALUE, dtype=None, deferred: bool = False):
    """The model for ``head`` (``models.build_model``) with zeros for weights, or unbuilt with ``deferred`` (see
    ``build_from_checkpoint``): a loader fills it."""
    # The model code imports keras: here, after a loader's copies have started, never at this module's import.
    from electra_qa.models.factory import build_model
    from electra_qa.models.initializers import build_deferred, weights_to_be_loaded

    with weights_to_be_loaded(), (build_deferred() if deferred else contextlib.nullcontext()):
        return build_model(config, head, version_2=version_2, beam_size=beam_size, end_mask_value=end_mask_value,
                           dtype=dtype)


def model_keys(source: Source, head: str) -> list[str]:
    """The stored keys a model with ``head`` reads: all model weights, or the encoder's only."""
    if head == "encoder":
        return [k for k in source.shapes if k.startswith(source.format.encoder_prefix)]
    return list(source.shapes)


def keys_for(model, source: Source, head: str) -> tuple[dict, set, dict, list[str]]:
    """The model's weight slots (``slots.keyed_slots``) and transposed keys in the source's naming, the stored
    shapes to check them against, and the stored keys left unused (with head="encoder", those outside the encoder
    rather than unexpected)."""
    slots, transposed = keyed_slots(model, source.format)
    shapes = {k: source.shapes[k] for k in model_keys(source, head)}
    unused = list(source.ignored) + [k for k in source.shapes if k not in shapes]
    return slots, transposed, shapes, unused


def validate(source: Source, keys: list[str]) -> list[str]:
    """What ``load_source`` would refuse in ``source``'s data, found without building a model: missing or
    truncated data files, checksum mismatches, weights that are not floating point or not finite. Returns the
    problems (``inspect_checkpoint`` reports them; loading raises the first)."""
    try:
        source.check_readable(keys)
        for key in keys:
            checked_weight(key, np.asarray(source.read(key)))
    except CheckpointError as e:
        return [str(e)]
    return []


def load_source(source: Source, head: str, config: ElectraConfig, *, version_2: bool = False, beam_size: int = 4,
                end_mask_value: float = AMP_END_MASK_VALUE, dtype=None, precision: str | None = None):
    """Build the model for ``head`` from ``source`` (strict, see ``build_from_checkpoint``); closes the source.
    ``dtype``/``precision`` as for ``load_model``."""
    try:
        keys = model_keys(source, head)
        source.check_readable(keys)
        # A worker thread copies the arrays while this thread imports the backend (resolving the precision is the
        # first thing that needs it) and constructs the model.
        with Prefetcher(keys, source.read, transposed=lambda k: source.format.stored_transposed(k, source.shapes[k]),
                        fresh=source.fresh) as prefetcher:
            dtype = resolve_dtype(precision, dtype)
            prefetcher.backend_ready()
            model = empty_model(config, head, version_2=version_2, beam_size=beam_size,
                                end_mask_value=end_mask_value, dtype=dtype, deferred=True)
            slots, transposed, shapes, _ = keys_for(model, source, head)
            build_from_checkpoint(model, slots, shapes, prefetcher,
                                  source=f"{source.format.description} {source.path!r}", transposed=transposed)
    finally:
        source.close()
    return model
