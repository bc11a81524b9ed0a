"""``skquake make-quakeset`` and ``skquake make-damage``: the generators from the shell.

Each option's ``dest`` is the generator's keyword, so that an error of the generator (``The
'patch_size' parameter of make_quakeset must be ...``, ``pass overwrite=True``) names the flag
(``--patch-size``, ``--overwrite``) on the command line (see :class:`skquake.utils.CommandParser`).
"""
from __future__ import annotations

import time

import numpy as np

from ...utils import CommandParser, input_file, output_folder
from .._quakeset import QuakeSet
from ._damage import make_damage_dataset
from ._quakeset import make_quakeset
from ._scene import make_scene_pair
from ._table import check_table_path, write_epicentre_table

__all__ = ["make_damage_main", "make_quakeset_main", "make_scene_main"]


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
    parser.add_argument("--epicentre-table", dest="table", default=None,
                        help="also write the events' epicentres to this .csv or .parquet table")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")

    def body(args):
        start = time.perf_counter()
        if args.table is not None:  # before the file is written: all or nothing
            check_table_path(args.table, overwrite=args.overwrite)
        path = make_quakeset(args.path, n_events=args.n_events, patch_size=args.patch_size,
                             patches_per_event=args.patches_per_event,
                             random_state=args.random_state, overwrite=args.overwrite,
                             signal_strength=args.signal_strength)
        with QuakeSet(path, split="all") as ds:
            counts = {s: int(np.sum(ds.file_splits == s)) for s in ("train", "validation", "test")}
            print(f"wrote {path}: {len(set(ds.groups))} events, {len(ds)} samples "
                  f"({int(ds.labels.sum())} positive), image {ds.image_shape}, "
                  f"samples per split {counts}, {time.perf_counter() - start:.1f} s")
        if args.table is not None:
            print(f"wrote {write_epicentre_table(path, args.table, overwrite=args.overwrite)}")

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


def make_scene_main(argv=None) -> int:
    """``skquake make-scene OUT_DIR --from FILE.h5 [options]``.

    Returns
    -------
    int
        0 on success, 2 for a usage error (a bad option value, a missing QuakeSet file, existing
        scenes without ``--overwrite``), 1 when writing failed.
    """
    parser = CommandParser(
        prog="skquake make-scene",
        description=("Write a pair of GeoTIFF scenes (pre.tif, post.tif: VV, VH, linear sigma0, UTM 37N) "
                     "tiled from a QuakeSet file's samples, earthquake samples in the top-left corner, to "
                     "try `skquake predict --pre --post` offline (the geo extra)."),
    )
    parser.add_argument("out_dir", type=output_folder, help="folder of the two scenes (created if missing)")
    parser.add_argument("--from", dest="quakeset", required=True, type=input_file("QuakeSet file"),
                        help="QuakeSet HDF5 file whose samples fill the tiles")
    parser.add_argument("--rows", type=int, default=6, help="tiles down (default 6)")
    parser.add_argument("--cols", type=int, default=8, help="tiles across (default 8)")
    parser.add_argument("--affected", type=int, default=2,
                        help="side of the corner block of earthquake samples (default 2)")
    parser.add_argument("--split", default="test", help="the samples to draw from (default test)")
    parser.add_argument("--crs", default="EPSG:32637", help="the grid's CRS (default EPSG:32637, UTM 37N)")
    parser.add_argument("--pixel-size", dest="pixel_size", type=float, default=10.0,
                        help="metres per pixel (default 10)")
    parser.add_argument("--random-state", dest="random_state", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing scenes")

    def body(args):
        pre, post = make_scene_pair(args.quakeset, args.out_dir, rows=args.rows, cols=args.cols,
                                    affected=args.affected, split=args.split, crs=args.crs,
                                    pixel_size=args.pixel_size, random_state=args.random_state,
                                    overwrite=args.overwrite)
        print(f"wrote {pre} and {post}")

    return parser.run(body, argv)
