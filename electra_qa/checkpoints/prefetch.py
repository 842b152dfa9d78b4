"""Reading a checkpoint's arrays ahead of the model build: ``Prefetcher`` copies every stored array into an aligned
host array on a worker thread (``aligned_copy``; checked by ``checked_weight``), transposes the kernels stored
transposed once the backend is imported, and hands them to the backend without another copy (``to_backend``, DLPack
on TensorFlow).
"""

from __future__ import annotations

import sys
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


def checked_weight(key: str, array: np.ndarray) -> np.ndarray:
    """``array`` if it can be a model weight: a floating-point type and only finite values; else CheckpointError
    naming the tensor (a NaN or an infinity in a weight makes every answer empty; an integer weight is corruption)."""
    if array.dtype.kind != "f" and array.dtype.name != "bfloat16":
        raise CheckpointError(
            f"checkpoint tensor {key!r} is stored as {array.dtype.name}, not a floating-point type; "
            "the checkpoint is corrupt or not a model's weights"
        )
    if not np.isfinite(array).all():
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

    def __init__(
        self,
        keys,
        read: Callable[[str], np.ndarray],
        transposed: Callable[[str], bool] = lambda key: False,
        new_arrays: bool = False,
    ):
        import concurrent.futures
        import threading

        self.read = read
        self.new_arrays = new_arrays  # read() returns a new array each call, which may become the weight's memory
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
        kept = self.new_arrays and is_aligned_copy(array)  # read straight into its own aligned array: no second copy
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
