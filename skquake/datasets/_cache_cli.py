"""``skquake cache FILE.h5 --out DIR``: convert a QuakeSet file into a decoded cache.

Each option's ``dest`` is :func:`~skquake.datasets.make_cache`'s keyword, so that its errors
(``pass overwrite=True``) name the flag (``--overwrite``).
"""
from __future__ import annotations

import time

from ..utils import CommandParser, input_file
from ._cache import CACHE_DTYPES, CachedQuakeSet, make_cache
from ._quakeset import MODES

__all__ = ["main"]


def main(argv=None) -> int:
    """``skquake cache FILE.h5 --out DIR [--dtype ...] [--modes ...] [--overwrite]``.

    Returns
    -------
    int
        0 on success, 2 for a usage error (a missing or non-QuakeSet file, an existing cache
        without ``--overwrite``, an unknown dtype), 1 when writing failed.
    """
    parser = CommandParser(
        prog="skquake cache",
        description=("Convert a QuakeSet HDF5 file once into a decoded cache folder (one memory-mapped "
                     ".npy per mode, the index and the source's fingerprint), read by "
                     "skquake.datasets.CachedQuakeSet at memory speed."),
    )
    parser.add_argument("path", type=input_file("QuakeSet file"), help="the QuakeSet .h5 file")
    parser.add_argument("--out", dest="out_dir", required=True, help="the cache folder to write")
    parser.add_argument("--dtype", default="float16-db", choices=sorted(CACHE_DTYPES),
                        help="storage: float16 decibels (half the size) or exact float32 linear "
                             "(default float16-db)")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES,
                        help="the modes to store (default both)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing cache")

    def body(args):
        start = time.perf_counter()
        out = make_cache(args.path, args.out_dir, dtype=args.dtype, modes=args.modes,
                         overwrite=args.overwrite)
        ds = CachedQuakeSet(out, split="all", mode=args.modes[0])
        size = sum(f.stat().st_size for f in out.iterdir()) / 2**20
        print(f"wrote {out}: {len(ds)} samples, image {ds.image_shape}, {args.dtype}, modes "
              f"{', '.join(args.modes)}, {size:.0f} MiB, {time.perf_counter() - start:.1f} s")

    return parser.run(body, argv)
