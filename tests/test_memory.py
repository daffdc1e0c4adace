"""The allocator settings a sync relies on to keep its memory flat."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import textwrap

from ordersync.memory import keep_memory_flat
from support import processes


def test_keep_memory_flat_applies_once_and_says_so() -> None:
    applied = keep_memory_flat()
    assert keep_memory_flat() is applied  # cached: one call per process
    assert applied == (sys.platform.startswith("linux") and ctypes.util.find_library("c") is not None)


def test_a_freed_batch_goes_back_to_the_system() -> None:
    # Land-like churn: 12 MB of 300 KB buffers freed while small objects allocated between them live
    # on. With glibc's dynamic threshold the second round comes from the heap and its holes stay
    # in the process; with the fixed threshold each buffer is its own mapping, returned on free.
    script = textwrap.dedent(
        """
        import sys
        from ordersync.memory import keep_memory_flat
        if sys.argv[1] == "flat":
            keep_memory_flat()
        def rss():
            return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
        base = rss()
        kept = []
        for _ in range(2):
            parts = []
            for _ in range(40):
                parts.append(bytes(300_000))
                kept.append(bytes(2_000))
            del parts
        print(rss() - base)
        """
    )

    def grown_by(mode: str) -> int:
        run = processes.run([sys.executable, "-c", script, mode], f"the freed-batch script ({mode})", timeout=120)
        assert run.returncode == 0, run.stderr
        return int(run.stdout)

    grown = {mode: grown_by(mode) for mode in ("flat", "default")}
    assert grown["flat"] < 4, grown
    assert grown["default"] > grown["flat"], grown


def test_threads_share_at_most_two_heaps() -> None:
    # glibc lists its heaps in malloc_info; threads allocating at once each get one of their own
    # (up to eight per core) unless capped.
    script = textwrap.dedent(
        """
        import ctypes, sys, tempfile, threading
        from ordersync.memory import keep_memory_flat
        if sys.argv[1] == "flat":
            keep_memory_flat()
        libc = ctypes.CDLL("libc.so.6")
        libc.fopen.restype = ctypes.c_void_p
        libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
        libc.fclose.argtypes = [ctypes.c_void_p]
        start = threading.Barrier(6)
        def churn():
            start.wait()
            for _ in range(2000):
                blocks = [bytearray(4_000) for _ in range(20)]
                del blocks
        threads = [threading.Thread(target=churn) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with tempfile.NamedTemporaryFile(suffix=".xml") as out:
            f = libc.fopen(out.name.encode(), b"w")
            libc.malloc_info(0, f)
            libc.fclose(f)
            print(open(out.name).read().count("<heap nr="))
        """
    )

    def heaps(mode: str) -> int:
        run = processes.run([sys.executable, "-c", script, mode], f"the six-thread heap script ({mode})", timeout=120)
        assert run.returncode == 0, run.stderr
        return int(run.stdout)

    assert heaps("flat") <= 2
    assert heaps("default") > 2
