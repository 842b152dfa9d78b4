"""The two types every checkpoint format shares: ``Format`` (how it names and lays out weights) and ``Source`` (one
opened checkpoint: its model-weight keys and shapes, and a reader).

Weights are named canonically by ``slots.model_slots`` (google-research/electra's TF1 names, e.g.
``electra/encoder/layer_3/attention/self/query/kernel``); a ``Format`` turns such a name into the key it stores.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import numpy as np

from electra_qa.errors import CheckpointError

# What reader libraries (h5py above all) raise for a damaged file: never let one reach the user as it is.
READER_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, EOFError)


def reader_errors_named(path: str):
    """Decorator: a reader library's exception becomes a CheckpointError naming ``path`` (ours pass through)."""

    def wrap(fn):
        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except CheckpointError:
                raise
            except READER_ERRORS as e:
                raise CheckpointError(
                    f"cannot read {path!r}: the file is damaged or not what its name says ({type(e).__name__}: {e})"
                ) from None

        return guarded

    return wrap


@dataclasses.dataclass(frozen=True)
class Format:
    """One checkpoint format's naming: canonical weight name -> stored key, and the stored layout."""

    name: str  # "ngc", "google", "hf_tf", "hf_pt", "keras"
    description: str
    key: Callable[[str], str]
    transposed_kernels: bool  # stored [out, in] (PyTorch Linear) instead of Keras' [in, out]
    encoder_prefix: str  # every encoder key starts with it; head keys do not

    def stored_transposed(self, key: str, shape: tuple) -> bool:
        """Whether the array stored under ``key`` is a transposed kernel, guessed from the key and shape alone (for
        loading ahead of building the model; ``slots.keyed_slots`` has the final word)."""
        if not self.transposed_kernels:
            return False
        return len(shape) == 2 and key.endswith(".weight") and not key.endswith("_embeddings.weight")

    def shape(self, source: Source, name: str) -> tuple[int, ...] | None:
        """The shape of canonical weight ``name`` in ``source`` in Keras' orientation, or None if not stored."""
        shape = source.shapes.get(self.key(name))
        if shape is not None and self.transposed_kernels and name.endswith("/kernel"):
            shape = shape[::-1]
        return shape


@dataclasses.dataclass
class Source:
    """The model-weight tensors of one checkpoint, keyed in its format's naming."""

    format: Format
    path: str  # the weights file (or TF checkpoint prefix)
    shapes: dict[str, tuple[int, ...]]  # key -> stored shape, model weights only
    read: Callable[[str], np.ndarray]
    ignored: list[str]  # stored keys that are not model weights (never read)
    close: Callable[[], None] = lambda: None
    check_readable: Callable[[list[str]], None] = lambda keys: None  # fail early on missing/truncated data
    new_arrays: bool = False  # read() returns a new aligned array each call (a loader may keep it as the weight)

    def shape(self, name: str) -> tuple[int, ...] | None:
        """Shape of the canonical weight ``name`` (Keras orientation), or None when the checkpoint lacks it."""
        return self.format.shape(self, name)
