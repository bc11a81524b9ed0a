"""The ``skquake`` command line: one sub-command per job, each owned by its module.

Each sub-command's module exposes ``main(argv)``; this file only dispatches, so that
``skquake benchmark --help`` shows the benchmark module's own options.
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "make-quakeset": ("skquake.datasets.synthetic._quakeset", "write a synthetic QuakeSet HDF5 file"),
    "make-damage": ("skquake.datasets.synthetic._damage", "write a synthetic building-damage HDF5 file"),
    "models": ("skquake.models._cli", "list the registered models"),
    "tune": ("skquake.tuning", "run or resume an Optuna study for a registered model"),
    "benchmark": ("skquake.benchmark", "compare registered models on the QuakeSet tasks"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: skquake COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'skquake COMMAND --help' for the options of one command."]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"skquake: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
