"""Our pure-Python checkpoint reader against TensorFlow's own reader."""

import numpy as np
import tensorflow as tf
from checkpoint_writers import write_tf_checkpoint

from electra_qa.checkpoints import TensorBundle


def test_reads_what_tensorflow_wrote(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "a/float32": rng.normal(size=(3, 4)).astype("float32"),
        "a/float64": rng.normal(size=(5,)),
        "b/int32": rng.integers(-5, 5, size=(2, 2, 2)).astype("int32"),
        "b/int64": np.asarray(7, dtype="int64"),
        "c/float16": rng.normal(size=(4,)).astype("float16"),
        "c/empty": np.zeros((0, 3), "float32"),
        "d/" + "long/" * 30 + "key": np.arange(1000, dtype="float32"),
        "e/string": np.asarray(b"text", dtype=object),
    }
    # many keys, so the index spans several blocks with prefix-compressed keys
    for i in range(300):
        tensors[f"z/layer/{i}/kernel"] = np.full((2,), i, "float32")
    prefix = write_tf_checkpoint(str(tmp_path / "ck"), tensors)
    bundle = TensorBundle(prefix)
    reader = tf.train.load_checkpoint(prefix)
    assert set(bundle.keys()) == set(reader.get_variable_to_shape_map())
    for key, value in tensors.items():
        if key == "e/string":
            assert bundle.entries[key].dtype is None
            continue
        got = bundle.read(key)
        assert got.dtype == value.dtype and got.shape == value.shape, key
        np.testing.assert_array_equal(got, value)
