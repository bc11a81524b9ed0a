"""What the benchmark scripts share: the command line they record, the default data file, and
writing the report (printed, and saved with the command at its top)."""
from __future__ import annotations

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
