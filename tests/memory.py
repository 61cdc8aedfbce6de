"""Peak resident memory of a piece of work in this process, sampled from /proc (what the fuzz and the resource
regressions bound)."""

import threading
import time
from contextlib import contextmanager

PAGE = 4096


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


@contextmanager
def peak_rss_growth(interval_s: float = 0.002):
    """`with peak_rss_growth() as peak:` ... then `peak["bytes"]`: the largest resident size seen while the block ran,
    less the size when it started (sampled every `interval_s` by a thread)."""
    result, done = {"bytes": 0}, threading.Event()
    start = rss_bytes()

    def watch():
        while not done.is_set():
            result["bytes"] = max(result["bytes"], rss_bytes() - start)
            time.sleep(interval_s)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        done.set()
        thread.join()
        result["bytes"] = max(result["bytes"], rss_bytes() - start)
