"""tune_malloc: large blocks come from the heap (glibc), and a user's own settings win."""

from __future__ import annotations

import subprocess
import sys

import pytest

# In a fresh interpreter: a 64 MiB buffer, allocated and freed, then the bytes glibc holds in
# mmapped blocks while a second one is alive (mallinfo2's hblkhd).
PROBE = """
import ctypes, sys
from hiergenre.runtime import tune_malloc
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena ordblks smblks hblks hblkhd usmblks "
                                                "fsmblks uordblks fordblks keepcost").split()]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
tuned = tune_malloc() if sys.argv[1] == "tune" else False
buf = libc.malloc(64 << 20)
print(int(tuned), libc.mallinfo2().hblkhd >= 64 << 20)
libc.free(buf)
"""


def _run(mode: str, env: dict | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         env=env, check=True)  # fmt: skip
    return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_after_tuning_a_large_block_comes_from_the_heap_not_mmap():
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    assert _run("plain", env) == ["0", "True"]  # glibc's default: 64 MiB is an mmap
    assert _run("tune", env) == ["1", "False"]


def test_a_users_own_malloc_setting_is_left_alone(monkeypatch):
    from hiergenre.runtime import tune_malloc

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert tune_malloc() is False
