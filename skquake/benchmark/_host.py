"""What the benchmark records about the computer a row ran on: versions, machine, load, memory.

Torch-free: the probes that need torch (device, threads, GPU memory) are in :mod:`._deep`.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata as _metadata
import json
import os
import platform
import sys
from pathlib import Path
from typing import Mapping

try:
    import resource  # optional: POSIX only (peak memory where /proc is missing)
except ImportError:  # pragma: no cover - Windows
    resource = None

__all__ = [
    "config_id",
    "cpu_count",
    "file_fingerprint",
    "load_avg",
    "machine",
    "now",
    "peak_rss_mb",
    "reset_peak_rss",
    "versions",
]

_VERSIONED = ("skquake", "numpy", "scikit-learn", "torch", "timm", "skorch")


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def versions() -> dict:
    """Python's version and those of the libraries that change a row's figures."""
    out = {"python": platform.python_version()}
    for dist in _VERSIONED:
        try:
            out[dist] = _metadata.version(dist)
        except _metadata.PackageNotFoundError:
            out[dist] = None
    return out


def cpu_count() -> int:
    """CPUs this process may run on (its affinity where the OS says, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def machine() -> dict:
    """Which computer measured a row: the CPU model, its cores and a hash of the host name
    (timings from another machine are not this machine's; the name itself is not stored)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    host = hashlib.sha1(platform.node().encode()).hexdigest()[:8]
    return {"cpu": cpu, "cores": cpu_count(), "host": host}


def load_avg() -> float | None:
    """1-minute load average when the row starts: a row timed on a busy machine says so."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None


def reset_peak_rss() -> str:
    """Start a fresh peak-RSS window for this process; return what the peak will mean."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # Linux: reset VmHWM to the current RSS
        return "row"
    except OSError:
        return "process"


def peak_rss_mb() -> float | None:
    """Peak resident memory in MiB: ``VmHWM`` (since :func:`reset_peak_rss`), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    if resource is None:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def file_fingerprint(path: Path) -> dict:
    """Name, size and a hash of the first and last MiB: cheap, and changes with the content."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha1()
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read(1 << 20))
    return {"name": path.name, "size": size, "sha1_ends": h.hexdigest()[:16]}


def config_id(config: Mapping) -> str:
    """A short hash of the settings that change a row's figures (its key in the results)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:10]
