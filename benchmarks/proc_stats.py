"""What Linux's /proc says of a process: CPU seconds, status fields, bytes written to storage."""

from __future__ import annotations

import os
import resource

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(stat_path: str) -> float:
    """utime + stime of a process or thread, from its ``/proc/.../stat``."""
    with open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def own_cpu_seconds() -> float:
    """This process's CPU seconds (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def proc_status(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` size field (VmRSS, VmHWM...) in bytes; 0 when absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def proc_written(pid: int) -> int:
    """Bytes the process caused to be written to storage (``/proc/PID/io`` write_bytes; 0 if unreadable)."""
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
