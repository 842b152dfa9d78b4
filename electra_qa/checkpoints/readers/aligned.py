"""Host arrays that TensorFlow can use in place, and file reads straight into them.

A loader's weights are read once, from the file into a 64-byte-aligned array that becomes the variable's memory
(``assign.to_backend``). Reading with ``pread`` rather than copying out of a memory map keeps the file's pages out of
the process's resident memory: at the peak a load holds the weights once, not twice (mapped pages and the copies).
"""

from __future__ import annotations

import mmap
import os

import numpy as np

ALIGN = 64  # bytes: what TensorFlow needs to use a host buffer in place (EIGEN_MAX_ALIGN_BYTES)


# Arrays this large get their own anonymous memory map: freed, they go back to the system at once. From the C heap,
# the many weight-sized buffers a load frees (kernels transposed by the backend) would stay in the process.
_OWN_MAP_BYTES = 1 << 20


def aligned_empty(shape, dtype) -> np.ndarray:
    """A writable, C-contiguous, ``ALIGN``-byte-aligned array in native byte order, uninitialised."""
    dtype = np.dtype(dtype).newbyteorder("=")
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes >= _OWN_MAP_BYTES:  # page-aligned, so ALIGN-aligned
        memory = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        return np.frombuffer(memory, np.uint8).view(dtype).reshape(shape)
    buffer = np.empty(nbytes + ALIGN, np.uint8)
    start = -buffer.ctypes.data % ALIGN
    return buffer[start : start + nbytes].view(dtype).reshape(shape)


def is_aligned_copy(array: np.ndarray) -> bool:
    """Whether ``array`` already is what ``aligned_empty`` makes (so that no further copy is needed)."""
    return (
        array.flags.c_contiguous and array.flags.writeable and array.dtype.isnative and array.ctypes.data % ALIGN == 0
    )


def pread_array(fd: int, offset: int, shape, dtype) -> np.ndarray:
    """The array stored at ``offset`` of the open file ``fd``, read into a new aligned array (little-endian data
    is converted to native order if this machine is big-endian). Raises EOFError if the file ends first."""
    stored = np.dtype(dtype)
    out = aligned_empty(shape, stored)
    view = memoryview(out.reshape(-1).view(np.uint8))
    done = 0
    while done < len(view):
        n = os.preadv(fd, [view[done:]], offset + done)
        if n <= 0:
            raise EOFError(f"the file ends {len(view) - done} bytes before the array at byte {offset} does")
        done += n
    if not stored.isnative:
        out = out.view(stored).astype(stored.newbyteorder("="))
    return out
