"""The allocator settings a sync relies on to keep its memory flat."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys
import textwrap

from ordersync.memory import keep_memory_flat


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
        run = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, check=True)
        return int(run.stdout)

    grown = {mode: grown_by(mode) for mode in ("flat", "default")}
    assert grown["flat"] < 4, grown
    assert grown["default"] > grown["flat"], grown
