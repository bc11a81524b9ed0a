"""What the benchmark scripts share: the command line they record, the default data file, and
writing the report (printed, and saved with the command at its top)."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def command_line(script: str, argv=None) -> str:
    """The command that reproduces this run, as written at the top of its report."""
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python", f"benchmarks/{Path(script).name}", *map(shlex.quote, args)])


def quakeset_path(data=None) -> Path:
    """``data`` if given, else the built-in synthetic QuakeSet file the quick profile uses."""
    if data:
        return Path(data)
    from skquake.benchmark import default_data_file

    return default_data_file("magnitude-bitemporal")


def write_report(text: str, out) -> None:
    print(text)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


# The medium synthetic file (issue 15): make_quakeset(n_events=1000, patch_size=64,
# patches_per_event=2, random_state=0), about 2,700 samples, written to the cache on first use.
MEDIUM_OPTIONS = {"n_events": 1000}


def medium_quakeset_path(data=None) -> Path:
    """``data`` if given, else the built-in medium synthetic file (``MEDIUM_OPTIONS``)."""
    if data:
        return Path(data)
    from skquake.benchmark import default_data_file

    return default_data_file("magnitude-bitemporal", options=dict(MEDIUM_OPTIONS))


def claim(path: Path) -> bool:
    """Claim a unit of work for this process (a file holding our pid, created atomically).

    Lets several copies of a script share one list of runs: a claim whose process is gone (a
    killed run) is taken over, so the scripts resume where they stopped.
    """
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(path.read_text() or 0)
                os.kill(pid, 0)
                return False  # held by a live process
            except (ValueError, ProcessLookupError, FileNotFoundError):
                path.unlink(missing_ok=True)  # stale: its process died
                continue
            except PermissionError:
                return False
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def positive_int(text):
    """``argparse`` type: an integer >= 1 (epochs, sizes, counts)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value
