"""How loaders copy stored arrays into the backend: aligned host copies made by a worker thread before the backend
is imported, shared with TensorFlow without a second copy, transposed by the backend once it is there."""

import os
import subprocess
import sys
import textwrap
import threading

import keras
import numpy as np
import pytest
from conftest import fixture_dir

from electra_qa.checkpoints.prefetch import Prefetcher, aligned_copy, to_backend


def test_aligned_copy_is_an_aligned_writable_copy():
    stored = np.arange(3 * 5, dtype=np.float32).reshape(3, 5)[:, 1:]  # not contiguous
    for dtype, expected in ((None, stored), ("float16", stored.astype(np.float16))):
        copy = aligned_copy(stored, dtype=dtype)
        assert copy.ctypes.data % 64 == 0 and copy.flags.c_contiguous and copy.flags.writeable
        assert copy.dtype == expected.dtype
        np.testing.assert_array_equal(copy, expected)
        assert not np.shares_memory(copy, stored)


def test_aligned_copy_is_in_native_byte_order():
    stored = np.arange(6, dtype=">f4").reshape(2, 3)
    copy = aligned_copy(stored)
    assert copy.dtype == np.dtype("float32") and copy.dtype.isnative
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(to_backend(copy)), stored.astype(np.float32))


def test_aligned_copy_of_a_read_only_memory_map(tmp_path):
    path = tmp_path / "weights.bin"
    values = np.linspace(-1, 1, 7 * 3, dtype=np.float32)
    path.write_bytes(b"\0" * 3 + values.tobytes())  # the array starts at an odd offset, as in a safetensors file
    mapped = np.memmap(path, dtype=np.float32, mode="r", offset=3, shape=(7, 3))
    copy = aligned_copy(mapped)
    assert type(copy) is np.ndarray and copy.ctypes.data % 64 == 0
    np.testing.assert_array_equal(copy, values.reshape(7, 3))


def test_to_backend_keeps_values_and_shares_memory_on_tensorflow():
    array = aligned_copy(np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32))
    tensor = to_backend(array)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(tensor), array)
    variable = keras.Variable(tensor)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(variable), array)
    if keras.backend.backend() == "tensorflow":
        array[0, 0] = 123.0  # the point of to_backend: TensorFlow uses the host copy in place (no second copy)
        assert float(keras.ops.convert_to_numpy(tensor)[0, 0]) == 123.0


def test_to_backend_copies_what_it_cannot_share():
    for array in (
        np.arange(6, dtype=np.float32)[1:],  # misaligned view
        np.arange(6, dtype=np.float32).reshape(2, 3).T,
    ):  # not C-contiguous
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(to_backend(array)), array)


def _arrays():
    rng = np.random.default_rng(1)
    return {"plain": rng.normal(size=(5, 3)).astype(np.float32), "kernel": rng.normal(size=(4, 2)).astype(np.float32)}


def test_transposes_are_made_by_the_worker_and_guesses_are_checked():
    arrays = _arrays()
    with Prefetcher(list(arrays), arrays.__getitem__, transposed=lambda key: key == "kernel") as prefetcher:
        kernel = prefetcher._futures["kernel"].result(timeout=10)
        assert isinstance(kernel, np.ndarray)  # numpy, in the worker: no backend needed
        np.testing.assert_array_equal(kernel, arrays["kernel"].T)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(prefetcher.get("kernel", True)), arrays["kernel"].T)
        plain = prefetcher.get("plain", False, dtype="float16")
        assert keras.backend.standardize_dtype(plain.dtype) == "float16"
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(plain), arrays["plain"].astype(np.float16))
    with Prefetcher(list(arrays), arrays.__getitem__, transposed=lambda key: key == "plain") as prefetcher:
        # both guesses wrong: each array is redone in the orientation asked for
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(prefetcher.get("plain", False)), arrays["plain"])
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(prefetcher.get("kernel", True)), arrays["kernel"].T)


@pytest.mark.parametrize("shape", [(1, 1), (3, 200), (130, 67), (64, 128), (257, 1)])
def test_transposed_copy_equals_numpy_transpose(shape):
    from electra_qa.checkpoints.prefetch import transposed_copy

    array = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    out = transposed_copy(array)
    np.testing.assert_array_equal(out, array.T)
    assert out.flags.c_contiguous and out.ctypes.data % 64 == 0


def test_closing_does_not_hang():
    """A load that fails early closes the prefetcher while copies are queued: the close returns."""
    arrays = {f"k{i}": np.zeros((256, 256), np.float32) for i in range(50)}
    closed = threading.Event()
    prefetcher = Prefetcher(list(arrays), arrays.__getitem__, transposed=lambda key: True)
    thread = threading.Thread(target=lambda: (prefetcher.close(), closed.set()))
    thread.start()
    assert closed.wait(timeout=10), "Prefetcher.close() did not return"


def test_copies_start_before_the_backend_is_imported():
    """The cold-start design: a new process reading a checkpoint starts the worker's copies before Keras (and
    TensorFlow, 1.5 s) is imported, so that the two overlap."""
    folder = fixture_dir("hf_tiny")
    code = textwrap.dedent(f"""
        import sys
        import electra_qa.checkpoints.prefetch as prefetch
        seen = []
        original = prefetch.Prefetcher.__init__
        def init(self, *args, **kwargs):
            seen.append("keras" in sys.modules)
            original(self, *args, **kwargs)
        prefetch.Prefetcher.__init__ = init
        from electra_qa import load_model
        load_model({str(folder / "model.safetensors")!r})
        print(seen)
    """)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, KERAS_BACKEND=keras.backend.backend()),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[False]"


def test_loaded_weights_outlive_the_checkpoint_file(tmp_path):
    """The variables hold their own copies (shared with TensorFlow, never with the memory-mapped file): deleting
    the checkpoint after loading must not change or break the model."""
    import gc
    import shutil

    from electra_qa import load_model

    folder = fixture_dir("hf_tiny")
    copy = tmp_path / "hf_tiny"
    shutil.copytree(folder, copy)
    model = load_model(copy / "model.safetensors")
    (copy / "model.safetensors").write_bytes(b"\0" * (copy / "model.safetensors").stat().st_size)  # same size, zeros
    shutil.rmtree(copy)
    gc.collect()
    io = np.load(folder / "io.npz")
    x = {n: io[f"{n}_0"] for n in ("input_ids", "attention_mask", "token_type_ids")}
    np.testing.assert_allclose(np.asarray(model(x)["start_logits"]), io["start_logits_0"], rtol=0, atol=1e-5)
