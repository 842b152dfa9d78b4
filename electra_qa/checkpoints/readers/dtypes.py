"""numpy dtypes by name, bfloat16 included (numpy has none; ml_dtypes, a Keras dependency, does)."""

import numpy as np


def numpy_dtype(name) -> np.dtype:
    """``np.dtype(name)``, with "bfloat16" taken from ml_dtypes (imported only then)."""
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)
