"""Process-wide allocator settings that keep a long sync's memory flat.

A sync lands batches of 10-15 KB payloads: each batch passes through a few buffers of several MB
(the payload strings, their Arrow copy, the warehouse's own). glibc serves blocks that large from
mmap only below a threshold it raises itself each time such a block is freed; past that, freed
batches stay in the heap and the process keeps the peak of every batch it ever landed. A fixed
threshold sends every large buffer back to the system when it is freed.

glibc also gives threads heaps (arenas) of their own, up to eight per core, each holding on to
what it freed; the landing runs in worker threads, so the arenas are capped at two.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

#: mallopt's M_MMAP_THRESHOLD; fixing it also turns off glibc's dynamic adjustment.
_M_MMAP_THRESHOLD = -3
#: Blocks from this size up come from mmap and go back to the system when freed.
MMAP_THRESHOLD = 256 * 1024
#: mallopt's M_ARENA_MAX: heaps glibc may create for threads, the main one included.
_M_ARENA_MAX = -8
ARENA_MAX = 2


@functools.cache
def keep_memory_flat() -> bool:
    """Apply the settings once per process; False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_ARENA_MAX, ARENA_MAX))
