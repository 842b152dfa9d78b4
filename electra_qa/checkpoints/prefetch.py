"""Reading a checkpoint's arrays ahead of the model build: ``Prefetcher`` copies every stored array into an aligned
host array on a worker thread (``aligned_copy``, or ``transposed_copy`` for kernels stored transposed; checked by
``checked_weight``), and hands them to the backend without another copy (``to_backend``, DLPack on TensorFlow).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from electra_qa.checkpoints.readers.aligned import ALIGN, aligned_empty, is_aligned_copy
from electra_qa.checkpoints.readers.dtypes import numpy_dtype
from electra_qa.errors import CheckpointError


def aligned_copy(array: np.ndarray, dtype=None) -> np.ndarray:
    """A writable, C-contiguous, 64-byte-aligned copy of ``array`` in native byte order, cast to ``dtype`` if
    given."""
    out = aligned_empty(array.shape, dtype or array.dtype)
    np.copyto(out, array, casting="unsafe")
    return out


_CHECK_CHUNK = 1 << 16


def checked_weight(key: str, array: np.ndarray) -> np.ndarray:
    """``array`` if it can be a model weight: a floating-point type and only finite values; else CheckpointError
    naming the tensor (a NaN or an infinity in a weight makes every answer empty; an integer weight is corruption)."""
    if array.dtype.kind != "f" and array.dtype.name != "bfloat16":
        raise CheckpointError(
            f"checkpoint tensor {key!r} is stored as {array.dtype.name}, not a floating-point type; "
            "the checkpoint is corrupt or not a model's weights"
        )
    flat = array.reshape(-1)
    for start in range(0, flat.size, _CHECK_CHUNK):  # in slices: no boolean temporary the size of the weight
        if not np.isfinite(flat[start : start + _CHECK_CHUNK]).all():
            raise CheckpointError(f"checkpoint tensor {key!r} holds NaN or infinite values; the checkpoint is corrupt")
    return array


_SHAREABLE = frozenset(("float16", "float32", "float64", "int32", "int64"))


def to_backend(array: np.ndarray):
    """``array`` (from ``aligned_copy``) as a backend tensor. On TensorFlow the tensor uses the array's memory
    (DLPack), and a variable created from it keeps that buffer: the weights are copied once, by ``aligned_copy``,
    instead of once more by ``convert_to_tensor``. Other backends convert as usual."""
    from keras import backend, ops

    if (
        backend.backend() == "tensorflow"
        and array.dtype.name in _SHAREABLE
        and array.flags.c_contiguous
        and array.flags.writeable
        and array.ctypes.data % ALIGN == 0
    ):
        import tensorflow as tf

        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return ops.convert_to_tensor(array)


_TILE = 64  # transposing 64 x 64 tiles keeps both sides in cache: about 3x numpy's plain strided copy


def transposed_copy(array: np.ndarray) -> np.ndarray:
    """An aligned copy of a 2-D ``array`` with its axes swapped (PyTorch's [out, in] kernels to Keras' [in, out]),
    written straight from ``array`` in tiles: no backend, and no memory but the result's."""
    rows, cols = array.shape
    out = aligned_empty((cols, rows), array.dtype)
    for i in range(0, rows, _TILE):
        for j in range(0, cols, _TILE):
            out[j : j + _TILE, i : i + _TILE] = array[i : i + _TILE, j : j + _TILE].T
    return out


class Prefetcher:
    """Stored arrays copied into aligned host arrays by one worker thread, in the order given, the kernels stored
    transposed (``transposed(key)``) swapped as they are copied (``transposed_copy``). The copies need no backend:
    a loader starts them before Keras and TensorFlow are imported, and they run while the main thread imports them.

    ``transposed`` is a guess from the stored key; ``get`` redoes an array whose orientation the model's layout
    decides otherwise. Use as a context manager, or call ``close``.
    """

    def __init__(
        self,
        keys,
        read: Callable[[str], np.ndarray],
        transposed: Callable[[str], bool] = lambda key: False,
        new_arrays: bool = False,
    ):
        import concurrent.futures

        self.read = read
        self.new_arrays = new_arrays  # read() returns a new array each call, which may become the weight's memory
        self._guess = {key: bool(transposed(key)) for key in keys}
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="electra_qa-load")
        self._futures = {key: self._pool.submit(self._copy, key, self._guess[key]) for key in keys}

    def _copy(self, key: str, transposed: bool) -> np.ndarray:
        array = np.asarray(self.read(key))
        if transposed and array.ndim == 2:
            return checked_weight(key, transposed_copy(array))
        kept = self.new_arrays and is_aligned_copy(array)  # read straight into its own aligned array: no second copy
        return checked_weight(key, array if kept else aligned_copy(array))

    def get(self, key: str, transposed: bool, dtype: str | None = None):
        """The stored array for ``key`` as a backend tensor (its axes swapped with ``transposed``), cast to
        ``dtype``."""
        future = self._futures.pop(key, None)
        if future is not None and self._guess[key] == transposed:
            value = future.result()
        else:
            value = self._copy(key, transposed)
        if dtype is not None and value.dtype.name != dtype:
            value = aligned_copy(value, dtype=numpy_dtype(dtype))
        return to_backend(value)

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._futures.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
