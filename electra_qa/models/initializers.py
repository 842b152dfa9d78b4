"""Weight initializers, and the switches loaders use to skip random initialization."""

import contextlib
import contextvars

import keras

_SKIP = contextvars.ContextVar("electra_qa_skip_init", default=False)
_DEFER = contextvars.ContextVar("electra_qa_defer_build", default=False)


@contextlib.contextmanager
def weights_to_be_loaded():
    """Within this block, new ELECTRA layers start from zeros instead of random values.

    Loaders build the model here and overwrite every weight (strictly) right after, so drawing 110 M random numbers
    for ELECTRA-base would only cost time and memory.
    """
    token = _SKIP.set(True)
    try:
        yield
    finally:
        _SKIP.reset(token)


@contextlib.contextmanager
def build_deferred():
    """Within this block, ELECTRA models are constructed without weights; the caller builds them.

    A loader sets each layer's ``<weight>_initializer`` (see ``checkpoints.slots.model_slots``) to the stored
    array and then calls ``model.build()``: every variable is created from its value, with no zero-filled copy first.
    """
    token = _DEFER.set(True)
    try:
        yield
    finally:
        _DEFER.reset(token)


def build_in_constructor() -> bool:
    """False inside ``build_deferred()``."""
    return not _DEFER.get()


def kernel_initializer(stddev):
    """Truncated normal with the config's initializer_range, or zeros inside ``weights_to_be_loaded()``."""
    if _SKIP.get():
        return keras.initializers.Zeros()
    return keras.initializers.TruncatedNormal(stddev=stddev)
