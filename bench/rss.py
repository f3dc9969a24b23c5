"""Resident memory of this process, for the load benchmarks (Linux /proc)."""

import os


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def peak_mb() -> float:
    # VmHWM, not ru_maxrss: ru_maxrss survives exec and would report the parent's peak
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
