"""``skquake make-quakeset`` and ``skquake make-damage``: the generators from the shell.

Each option's ``dest`` is the generator's keyword, so that an error of the generator (``The
'patch_size' parameter of make_quakeset must be ...``, ``pass overwrite=True``) names the flag
(``--patch-size``, ``--overwrite``) on the command line (see :class:`skquake.utils.CommandParser`).
"""
from __future__ import annotations

import time

import numpy as np

from ...utils import CommandParser
from .._quakeset import QuakeSet
from ._damage import make_damage_dataset
from ._quakeset import make_quakeset

__all__ = ["make_damage_main", "make_quakeset_main"]


def make_quakeset_main(argv=None) -> int:
    """``skquake make-quakeset PATH [options]``.

    Returns
    -------
    int
        0 on success, 2 for a usage error (a bad option value, an existing file without
        ``--overwrite``, a folder as PATH), 1 when writing failed.
    """
    parser = CommandParser(
        prog="skquake make-quakeset",
        description="Write a synthetic QuakeSet HDF5 file (the layout of the real earthquakes.h5).",
    )
    parser.add_argument("path", help="output .h5 file")
    parser.add_argument("--n-events", type=int, default=200, help="number of events (default 200)")
    parser.add_argument("--patch-size", type=int, default=64,
                        help="image size in pixels (default 64)")
    parser.add_argument("--patches-per-event", type=int, default=2,
                        help="maximum patches per event (default 2)")
    parser.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--signal-strength", type=float, default=1.0,
                        help="scale of the earthquake signature (default 1.0)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")

    def body(args):
        start = time.perf_counter()
        path = make_quakeset(args.path, n_events=args.n_events, patch_size=args.patch_size,
                             patches_per_event=args.patches_per_event,
                             random_state=args.random_state, overwrite=args.overwrite,
                             signal_strength=args.signal_strength)
        with QuakeSet(path, split="all") as ds:
            counts = {s: int(np.sum(ds.file_splits == s)) for s in ("train", "validation", "test")}
            print(f"wrote {path}: {len(set(ds.groups))} events, {len(ds)} samples "
                  f"({int(ds.labels.sum())} positive), image {ds.image_shape}, "
                  f"samples per split {counts}, {time.perf_counter() - start:.1f} s")

    return parser.run(body, argv)


def make_damage_main(argv=None) -> int:
    """``skquake make-damage PATH [options]``: write a synthetic building-damage file.

    Returns
    -------
    int
        As :func:`make_quakeset_main`.
    """
    parser = CommandParser(
        prog="skquake make-damage",
        description="Write a synthetic building-damage HDF5 file (format: docs/damage.md).",
    )
    parser.add_argument("path", help="output .h5 file")
    parser.add_argument("--n-buildings", type=int, default=2000, help="number of buildings (default 2000)")
    parser.add_argument("--n-regions", type=int, default=4, help="number of regions (default 4)")
    parser.add_argument("--image-size", type=int, default=32, help="chip side in pixels (default 32)")
    parser.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")

    def body(args):
        print(make_damage_dataset(args.path, n_buildings=args.n_buildings, n_regions=args.n_regions,
                                  image_size=args.image_size, random_state=args.random_state,
                                  overwrite=args.overwrite))

    return parser.run(body, argv)
