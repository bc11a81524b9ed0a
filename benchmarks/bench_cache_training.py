"""Training throughput of a deep estimator on a CPU from arrays, the HDF5 file and the cache, side by side.

    python benchmarks/bench_cache_training.py [--data FILE] [--size 512] [--n-events 60] [--epochs 4]

One run trains the same :class:`QuakeRegressor` (same seed, same samples, same batches of 16) for
``--epochs`` epochs from

(a) arrays in memory (``load_quakeset``: the file decoded before training; not timed);
(b) the HDF5 file, read lazily sample by sample (``lazy_xy(QuakeSet(...))``);
(c) the decoded cache through the estimators' batched path (``lazy_xy(CachedQuakeSet(...))``: one
    indexed read per batch; float16 decibels decoded by the estimator, ``decode_batch``), for a
    float16-db cache (memory map and ``in_memory=True``) and a float32-linear cache;

all in the main process (``num_workers=0``), and reports training samples/s (the best epoch after
the first; skorch's epoch ``dur``: reading, decoding, training steps) and its ratio to (b). The
network is a stand-in for a GPU that trains far faster than a CPU, so that the input path is
what the figures compare: a per-channel mean, batch norm and one linear layer, with
``decibels=False`` and ``flips=False`` (the per-pixel logarithm and flips that a GPU does for
next to nothing would dominate on a CPU). A timm backbone on this CPU trains at a few samples/s
at 512 x 512, whatever the input path.

Without ``--data`` it writes a synthetic file of ``--size`` x ``--size`` images under
``benchmarks/_work/`` (deleted afterwards with its caches unless ``--keep``). Writes
``benchmarks/results/cache_training.md`` (``--out``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from _common import HERE, command_line, positive_int, write_report


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="existing QuakeSet file (default: generate one of --size)")
    parser.add_argument("--size", type=positive_int, default=512, help="image size of the generated file")
    parser.add_argument("--n-events", type=positive_int, default=60, help="events of the generated file")
    parser.add_argument("--epochs", type=positive_int, default=4,
                        help="epochs per source (the best after the first is reported)")
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the generated file and the caches")
    parser.add_argument("--work", default=str(HERE / "_work"), help="folder of the generated file and caches")
    parser.add_argument("--out", default=str(HERE / "results" / "cache_training.md"))
    args = parser.parse_args(argv)
    if args.batch_size < 2:
        parser.error(f"--batch-size must be at least 2 (a training batch), got {args.batch_size}")
    if args.epochs < 2:
        parser.error(f"--epochs must be at least 2 (the first, warming up, is not reported), got {args.epochs}")
    return args


def pooled_linear_net():
    """The stand-in network (a module class for ``QuakeRegressor(module=...)``)."""
    import torch  # torch: the script's import stays light until it runs
    from torch import nn

    class PooledLinear(nn.Module):
        """A per-channel mean, batch norm and one linear layer (the estimators' output affine)."""

        def __init__(self, backbone, in_chans, num_outputs, output_shift=0.0, output_scale=1.0, **_):
            super().__init__()
            self.head = nn.Sequential(nn.BatchNorm1d(in_chans), nn.Linear(in_chans, num_outputs))
            self.register_buffer("output_shift", torch.tensor(float(output_shift)))
            self.register_buffer("output_scale", torch.tensor(float(output_scale)))

        def forward(self, x):
            return self.head(x.mean(dim=(2, 3))) * self.output_scale + self.output_shift

    return PooledLinear


def samples_per_second(module, X, y, epochs, batch_size):
    """Samples/s of the fastest epoch after the first of a fixed-seed fit, and the last train loss."""
    from skquake.models.deep import QuakeRegressor

    net = QuakeRegressor("none", module=module, decibels=False, flips=False, max_epochs=epochs,
                         batch_size=batch_size, random_state=0)
    net.fit(X, y)
    return len(y) / min(net.history[1:, "dur"]), net.history[-1, "train_loss"]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    import torch  # torch: --help and argument errors do not wait for it

    from skquake.datasets import (
        CachedQuakeSet,
        QuakeSet,
        lazy_xy,
        load_quakeset,
        make_cache,
        make_quakeset,
    )

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    generated = args.data is None
    path = work / f"cache_training_{args.size}.h5" if generated else Path(args.data)
    if generated:
        make_quakeset(path, n_events=args.n_events, patch_size=args.size, random_state=0, overwrite=True)
    elif not path.is_file():
        raise SystemExit(f"bench_cache_training.py: --data {path}: no such file")
    caches = {dtype: work / f"{path.stem}.{dtype}.cache" for dtype in ("float16-db", "float32-linear")}
    load = os.getloadavg()
    try:
        for dtype, folder in caches.items():
            make_cache(path, folder, dtype=dtype, modes=("bitemporal",), overwrite=True)
        hdf5 = QuakeSet(path, split="all")
        n, shape = len(hdf5), hdf5.image_shape
        X_array, y, _ = load_quakeset(path, split="all", target="magnitude")
        rows = [("(a) arrays in memory (load_quakeset)", lambda: X_array),
                ("(b) HDF5, QuakeSet read per sample", lambda: lazy_xy(hdf5)[0]),
                ("(c) float16-db cache, memory map, batched", lambda: lazy_xy(
                    CachedQuakeSet(caches["float16-db"], split="all"))[0]),
                ("(c) float16-db cache, in_memory=True, batched", lambda: lazy_xy(
                    CachedQuakeSet(caches["float16-db"], split="all", in_memory=True))[0]),
                ("(c) float32-linear cache, memory map, batched", lambda: lazy_xy(
                    CachedQuakeSet(caches["float32-linear"], split="all"))[0])]
        module = pooled_linear_net()
        results = []
        for name, X in rows:
            rate, loss = samples_per_second(module, X(), y, args.epochs, args.batch_size)
            results.append((name, rate, loss))
            print(f"{name}: {rate:.1f} samples/s (train loss {loss:.6f})", flush=True)
    finally:
        if not args.keep:
            for folder in caches.values():
                shutil.rmtree(folder, ignore_errors=True)
            if generated:
                path.unlink(missing_ok=True)
    base = results[1][1]
    lines = [f"Command: `{command_line(__file__, argv)}`", "",
             (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} CPU cores "
              f"(torch {torch.__version__}, {torch.get_num_threads()} threads); load average at start "
              f"{' / '.join(f'{x:.1f}' for x in load)}, at the end "
              f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min; the machine is shared with other "
              f"jobs). Data: {path.name}, {n} samples of {' x '.join(map(str, shape))} (split \"all\"). "
              f"QuakeRegressor, batch {args.batch_size}, random_state=0, num_workers=0, {args.epochs} epochs; "
              "samples/s of the fastest epoch after the first (skorch's epoch `dur`: reading, decoding and "
              "training steps). Network: per-channel mean + batch norm + one linear layer, decibels=False, "
              "flips=False (a stand-in for a fast GPU, so that the input path dominates). Equal train "
              "losses: the same samples and batches from every source (float16-db within its rounding)."), "",
             "| source | training samples/s | vs (b) HDF5 | train loss, last epoch |",
             "| --- | --- | --- | --- |"]
    lines += [f"| {name} | {rate:.1f} | {rate / base:.1f}x | {loss:.6f} |" for name, rate, loss in results]
    write_report("\n".join(lines) + "\n", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
