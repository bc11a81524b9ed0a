"""``skquake models``: print the model registry as a table."""
from __future__ import annotations

import argparse

from ._registry import get_model_spec, list_models


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="skquake models", description=__doc__)
    parser.add_argument("pattern", nargs="?", help="shell-style wildcard on the name, e.g. 'svr-*'")
    parser.add_argument("--task", choices=["detection", "magnitude", "damage"])
    parser.add_argument("--family", choices=["shallow", "deep"])
    args = parser.parse_args(argv)
    names = list_models(args.pattern, task=args.task, family=args.family)
    rows = [("name", "task", "family", "paper row", "description")]
    for name in names:
        s = get_model_spec(name)
        rows.append((name, s.task, s.family, s.paper_name or "", s.description))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
    return 0
