"""``skquake models``: print the model registry as a table."""
from __future__ import annotations

import sys

from ..utils import CommandParser
from ._registry import FAMILIES, TASKS, get_model_spec, list_models


def main(argv=None) -> int:
    """``skquake models [PATTERN] [--task TASK] [--family FAMILY]``.

    Returns
    -------
    int
        0 when some model matches, 1 when none does (as ``grep``), 2 for a usage error.
    """
    parser = CommandParser(prog="skquake models", description=__doc__)
    parser.add_argument("pattern", nargs="?", help="shell-style wildcard on the name, e.g. 'svr-*'")
    parser.add_argument("--task", choices=TASKS)
    parser.add_argument("--family", choices=FAMILIES)

    def body(args):
        names = list_models(args.pattern, task=args.task, family=args.family)
        if not names:
            given = [repr(args.pattern)] if args.pattern else []
            given += [f"--{k} {getattr(args, k)}" for k in ("task", "family") if getattr(args, k)]
            print(f"skquake models: no registered model matches {' '.join(given)}", file=sys.stderr)
            return 1
        rows = [("name", "task", "family", "paper row", "description")]
        for name in names:
            s = get_model_spec(name)
            rows.append((name, s.task, s.family, s.paper_name or "", s.description))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])

    return parser.run(body, argv)
