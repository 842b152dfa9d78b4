"""A reader for ``.safetensors`` files: each tensor read into a new aligned array, no extra package.

Format (huggingface/safetensors): 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the end of the header) plus an optional
``__metadata__`` entry, then the raw little-endian tensor bytes. The header is validated as the ``safetensors``
library does: a JSON object, known dtypes, non-negative integer shapes and offsets, each tensor's byte count equal
to its dtype size times its shape, and the tensors tiling the data exactly (contiguous, non-overlapping, in
bounds). Anything else is a ``CheckpointError`` naming the file and the tensor.
"""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np

from electra_qa.checkpoints.readers.aligned import pread_array
from electra_qa.checkpoints.readers.dtypes import numpy_dtype
from electra_qa.errors import CheckpointError

_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


def _natural(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class SafetensorsFile:
    """Tensor names, shapes and zero-copy reads of one ``.safetensors`` file."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        try:
            size = os.path.getsize(self.path)
            with open(self.path, "rb") as f:
                (header_len,) = struct.unpack("<Q", f.read(8))
                if header_len > size - 8 or header_len > 100_000_000:
                    raise ValueError(f"header length {header_len} does not fit a {size}-byte file")
                header = json.loads(f.read(header_len))
        except (OSError, ValueError, struct.error) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise CheckpointError(f"cannot read {self.path!r} as safetensors: {e}") from None
        self._data_start = 8 + header_len
        self.metadata, self._entries = self._validated(header, size - self._data_start)
        self._fd = None

    def _corrupt(self, what: str) -> CheckpointError:
        return CheckpointError(f"{self.path!r} is truncated or corrupt (not a valid safetensors file): {what}")

    def _validated(self, header, data_size: int) -> tuple[dict, dict]:
        if not isinstance(header, dict):
            raise self._corrupt(f"its header is a JSON {type(header).__name__}, not an object")
        metadata = header.pop("__metadata__", None) or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise self._corrupt("__metadata__ is not an object of strings")
        spans = []
        for name, entry in header.items():
            if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
                raise self._corrupt(f"tensor {name!r} is not an object with dtype, shape and data_offsets")
            shape, offsets = entry["shape"], entry["data_offsets"]
            if not isinstance(entry["dtype"], str):
                raise self._corrupt(f"tensor {name!r} has dtype {entry['dtype']!r}, not a dtype name")
            dtype = self._dtype(name, entry["dtype"])
            if not isinstance(shape, list) or not all(_natural(d) for d in shape):
                raise self._corrupt(f"tensor {name!r} has shape {shape!r}, not a list of non-negative integers")
            if (
                not isinstance(offsets, list)
                or len(offsets) != 2
                or not all(_natural(o) for o in offsets)
                or offsets[0] > offsets[1]
            ):
                raise self._corrupt(
                    f"tensor {name!r} has data_offsets {offsets!r}, not [begin, end] with 0 <= begin <= end"
                )
            if offsets[1] - offsets[0] != dtype.itemsize * math.prod(shape):
                raise self._corrupt(
                    f"tensor {name!r} has {offsets[1] - offsets[0]} bytes, but {entry['dtype']} "
                    f"{shape} needs {dtype.itemsize * math.prod(shape)}"
                )
            spans.append((offsets[0], offsets[1], name))
        end = 0
        for begin, stop, name in sorted(spans):
            if begin != end:
                raise self._corrupt(
                    f"tensor {name!r} starts at byte {begin} of the data, where {end} was expected "
                    "(tensors overlap or leave a gap)"
                )
            end = stop
        if end != data_size:
            raise self._corrupt(
                f"the tensors cover {end} bytes of data but the file holds {data_size} (truncated or padded)"
            )
        return metadata, header

    def _dtype(self, name: str, code: str) -> np.dtype:
        if code == "BF16":
            return numpy_dtype("bfloat16")
        if code not in _DTYPES:
            raise CheckpointError(f"{self.path!r}: tensor {name!r} has unsupported dtype {code}")
        return np.dtype(_DTYPES[code])

    def keys(self) -> list[str]:
        return list(self._entries)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._entries[name]["shape"])

    def read(self, name: str) -> np.ndarray:
        """The tensor, read into a new aligned array (``readers.aligned``) in native byte order."""
        entry = self._entries[name]
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except OSError as e:
                raise CheckpointError(f"cannot read {self.path!r}: {e.strerror}") from None
        try:
            return pread_array(
                self._fd,
                self._data_start + entry["data_offsets"][0],
                tuple(entry["shape"]),
                self._dtype(name, entry["dtype"]),
            )
        except EOFError:
            raise CheckpointError(f"{self.path!r} is truncated at tensor {name!r}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_CODES = {
    np.dtype("<f8"): "F64",
    np.dtype("<f4"): "F32",
    np.dtype("<f2"): "F16",
    np.dtype("<i8"): "I64",
    np.dtype("<i4"): "I32",
    np.dtype("<i2"): "I16",
    np.dtype("i1"): "I8",
    np.dtype("u1"): "U8",
    np.dtype("?"): "BOOL",
}


def write_safetensors(path: str | os.PathLike, tensors: dict[str, np.ndarray], metadata: dict | None = None) -> None:
    """Write ``tensors`` as a ``.safetensors`` file (header padded to 8 bytes; written to a temp name, then renamed)."""
    header, offset, arrays = {}, 0, []
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        code = "BF16" if array.dtype.name == "bfloat16" else _CODES.get(array.dtype.newbyteorder("<"))
        if code is None:
            raise CheckpointError(f"cannot write tensor {name!r} of dtype {array.dtype} as safetensors")
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
        arrays.append(array)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path = os.fspath(path)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for array in arrays:
            f.write(array.tobytes())
    os.replace(tmp, path)
