"""The ``skquake`` command line: one sub-command per job, each owned by its module.

Each sub-command is a function ``main(argv) -> int`` of its module; this file only dispatches,
so that ``skquake benchmark --help`` shows the benchmark module's own options. Every command
runs through :class:`skquake.utils.CommandParser`, so all share their exit statuses (0 success,
1 the command ran and failed, 2 usage error, 130 interrupted) and their one-line
``skquake COMMAND: error: ...`` messages, which name the command's flags.
"""
from __future__ import annotations

import importlib
import sys

#: Command -> ("module:function", one line of help). A module is imported only when its command
#: runs (``skquake models`` does not import torch).
COMMANDS = {
    "make-quakeset": ("skquake.datasets.synthetic._cli:make_quakeset_main", "write a synthetic QuakeSet HDF5 file"),
    "make-damage": ("skquake.datasets.synthetic._cli:make_damage_main", "write a synthetic building-damage HDF5 file"),
    "cache": ("skquake.datasets._cache_cli:main", "convert a QuakeSet file into a decoded cache read at memory speed"),
    "make-scene": ("skquake.datasets.synthetic._cli:make_scene_main",
                   "write a GeoTIFF scene pair tiled from a QuakeSet file (to try predict offline)"),
    "models": ("skquake.models._cli:main", "list the registered models"),
    "tune": ("skquake.tuning._cli:main", "run or resume an Optuna study for a registered model"),
    "benchmark": ("skquake.benchmark._cli:main", "compare registered models on the QuakeSet tasks"),
    "fit": ("skquake.inference._cli:fit_main", "train a registered model on a QuakeSet file and save it (.skq)"),
    "predict": ("skquake.inference._cli:predict_main",
                "predict with a saved model on a QuakeSet file (CSV) or a GeoTIFF pair (maps)"),
    "export": ("skquake.inference._cli:export_main", "export a saved model to ONNX (optionally int8)"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: skquake COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'skquake COMMAND --help' for the options of one command."]
    return "\n".join(lines)


def main(argv=None) -> int:
    """Run ``skquake COMMAND [options]``; return the exit status (never raises ``SystemExit``).

    Parameters
    ----------
    argv : list of str, optional
        Default ``sys.argv[1:]``.

    Returns
    -------
    int
        The command's status, or 0 for the usage text and 2 for an unknown command.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"skquake: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module, _, function = COMMANDS[command][0].partition(":")
    return int(getattr(importlib.import_module(module), function)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
