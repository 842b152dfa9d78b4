"""Weight initializers, with a switch that loaders use to skip random initialization."""

import contextlib
import contextvars

import keras

_SKIP = contextvars.ContextVar("electra_qa_skip_init", default=False)


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


def kernel_initializer(stddev):
    """Truncated normal with the config's initializer_range, or zeros inside ``weights_to_be_loaded()``."""
    if _SKIP.get():
        return keras.initializers.Zeros()
    return keras.initializers.TruncatedNormal(stddev=stddev)
