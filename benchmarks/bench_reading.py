"""Reading throughput and pooled-loading memory on a full-resolution (512 x 512) QuakeSet file.

    python benchmarks/bench_reading.py [--data FILE] [--n-events 100] [--patches-per-event 2]

Without ``--data`` it writes a synthetic 512 x 512 file under ``benchmarks/_work/`` (git-ignored;
deleted afterwards unless ``--keep``). Measures, and prints and writes to
``benchmarks/results/reading.md``:

* the time to open the dataset (index only),
* samples/s reading full-resolution bitemporal samples in random order through
  ``QuakeSet.__getitem__`` and through a torch DataLoader with 2 workers,
* the peak resident memory of ``load_quakeset(split="all", pool=4)`` in a fresh child
  process, against the size of its result and the size of the unpooled data,
* the decoded cache side by side with the HDF5 path: the time of ``make_cache`` (float16
  decibels, both modes), then random-order batches of 16 bitemporal samples from (a) ``QuakeSet``
  (HDF5, one ``__getitem__`` per sample), (b) ``CachedQuakeSet.read_batch`` on the memory map,
  decoded to float32 linear and as stored (float16 dB, what a device-side decoding path moves),
  (c) the same with ``in_memory=True``, (d) TorchGeo's ``QuakeSet`` when torchgeo is installed,
  in samples/s and MiB/s beside the machine's memory-copy rate (``numpy.copyto`` of 256 MiB).

The file is read right after being written, so it is mostly in the OS page cache: the figures
are for a warm cache (decoding + copying), not for a cold disk.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# Peak RSS from /proc/self/status VmHWM: getrusage's ru_maxrss would also count the parent's
# memory at fork time (Linux keeps it across exec), and the parent holds torch.
CHILD = r"""
import json, sys, time
import h5py, numpy as np
from skquake.datasets import load_quakeset

def vm_hwm():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))

path, pool = sys.argv[1], int(sys.argv[2])
rss0 = vm_hwm()
if pool:
    t = time.perf_counter()
    X, y, g = load_quakeset(path, split="all", pool=pool)
    seconds, nbytes, shape = time.perf_counter() - t, X.nbytes, X.shape
else:
    seconds, nbytes, shape = 0.0, 0, ()
print(json.dumps(dict(rss_before_kib=rss0, peak_rss_kib=vm_hwm(), seconds=seconds, nbytes=nbytes,
                      shape=list(shape))))
"""


def child_memory(path, pool):
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(pool)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def read_random(ds, order):
    start = time.perf_counter()
    nbytes = 0
    for i in order:
        nbytes += ds[int(i)]["image"].nbytes
    seconds = time.perf_counter() - start
    return len(order) / seconds, nbytes / seconds / 2**20


def read_loader(ds, n, seed, workers=2, batch_size=8):
    import torch
    from torch.utils.data import DataLoader, RandomSampler

    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(ds, batch_size=batch_size, num_workers=workers,
                        sampler=RandomSampler(ds, num_samples=n, generator=gen))
    start = time.perf_counter()
    count = 0
    for batch in loader:
        count += len(batch["label"])
    return count / (time.perf_counter() - start)


def memory_copy_rate(nbytes=256 * 2**20, repeats=5):
    """MiB/s of ``numpy.copyto`` between two large float32 arrays (the best of ``repeats``)."""
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # fault the pages in before timing
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return nbytes / best / 2**20


def time_batches(read, n, batch_size=16, min_seconds=2.0, seed=0):
    """samples/s and MiB/s of ``read(indices)`` over random-order batches (whole epochs)."""
    rng = np.random.default_rng(seed)
    batch_size = min(batch_size, n)  # a file smaller than a batch (a quick trial run)
    count = nbytes = 0
    start = time.perf_counter()
    while count == 0 or time.perf_counter() - start < min_seconds:
        order = rng.permutation(n)
        for i in range(0, n - batch_size + 1, batch_size):  # full batches (a reused buffer fits)
            batch = read(order[i:i + batch_size])
            count += len(batch)
            nbytes += batch.nbytes
    seconds = time.perf_counter() - start
    return count / seconds, nbytes / seconds / 2**20, count


def cache_reader(ds, decode, batch_size=16):
    """``read_batch`` of ``ds`` into one reused buffer, as a loader feeding a device would."""
    dtype = np.float16 if ds.dtype == "float16-db" and not decode else np.float32
    out = np.empty((min(batch_size, len(ds)),) + ds.image_shape, dtype=dtype)
    return lambda idx: ds.read_batch(idx, decode=decode, out=out)


def torchgeo_reader(path, work):
    """``(n, batch reader)`` over TorchGeo's QuakeSet on ``path``; None without torchgeo."""
    try:
        from torchgeo.datasets import (
            QuakeSet as TorchGeoQuakeSet,  # optional: measured when installed
        )
    except ImportError:
        return None
    root = work / "torchgeo"  # TorchGeo reads ROOT/earthquakes.h5
    root.mkdir(exist_ok=True)
    link = root / "earthquakes.h5"
    link.unlink(missing_ok=True)
    link.symlink_to(Path(path).resolve())
    ds = TorchGeoQuakeSet(root=str(root), split="train")
    return len(ds), lambda idx: np.stack([ds[int(i)]["image"].numpy() for i in idx])


def compare_cache(path, work, say, keep):
    """The cache rows: conversion time, then (a) HDF5 / (b) memmap / (c) RAM / (d) TorchGeo."""
    import shutil

    from skquake.datasets import CachedQuakeSet, QuakeSet, make_cache

    copy_mibs = memory_copy_rate()
    say(f"| memory copy (numpy.copyto, 256 MiB float32) | {copy_mibs:.0f} MiB/s |")
    outs = {dtype: work / f"reading_cache_{dtype}" for dtype in ("float16-db", "float32-linear")}
    try:
        for dtype, modes in (("float16-db", ("bitemporal", "single")), ("float32-linear", ("bitemporal",))):
            start = time.perf_counter()
            make_cache(path, outs[dtype], dtype=dtype, modes=modes, overwrite=True)
            seconds = time.perf_counter() - start
            size = sum(f.stat().st_size for f in outs[dtype].iterdir()) / 2**20
            say(f"| make_cache ({dtype}, {' + '.join(modes)}) | {seconds:.1f} s, {size:.0f} MiB |")
        hdf5 = QuakeSet(path, split="all")
        n = len(hdf5)
        rows = [("(a) QuakeSet (HDF5), np.stack of __getitem__",
                 lambda idx: np.stack([hdf5[int(i)]["image"] for i in idx]), n)]
        for dtype, in_memory, where in (("float16-db", False, "(b) float16-db cache, memory map"),
                                        ("float16-db", True, "(c) float16-db cache, in memory"),
                                        ("float32-linear", False, "(b) float32-linear cache, memory map")):
            cached = CachedQuakeSet(outs[dtype], split="all", in_memory=in_memory)
            cached.read_batch([0])  # map / load before timing (loading is not reading)
            rows.append((f"{where}, read_batch -> float32 linear", cache_reader(cached, True), n))
            if dtype == "float16-db":
                rows.append((f"{where}, read_batch(decode=False) -> float16 dB",
                             cache_reader(cached, False), n))
        tg = torchgeo_reader(path, work)
        if tg is not None:
            rows.append(("(d) TorchGeo QuakeSet (train split), np.stack of __getitem__", tg[1], tg[0]))
        rates = {}
        for name, read, size_n in rows:
            sps, mibs, count = time_batches(read, size_n)
            rates[name] = sps
            say(f"| {name}, random batches of 16 | {sps:.0f} samples/s, {mibs:.0f} MiB/s "
                f"({mibs / copy_mibs:.0%} of memory copy), {count} samples |")
        if tg is None:
            say("| (d) TorchGeo QuakeSet | not measured: torchgeo is not installed |")
        base = rates[rows[0][0]]
        say("| cache / HDF5 (a) | " + "; ".join(f"{k.split(', read_batch')[0]} {k.split('-> ')[1]}: "
                                              f"{v / base:.1f}x" for k, v in rates.items()
                                              if k.startswith(("(b)", "(c)"))) + " |")
    finally:
        if not keep:
            for out in outs.values():
                shutil.rmtree(out, ignore_errors=True)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="existing QuakeSet file (default: generate one)")
    parser.add_argument("--n-events", type=int, default=100)
    parser.add_argument("--patches-per-event", type=int, default=2)
    parser.add_argument("--patch-size", type=int, default=512)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--n-samples", type=int, default=None,
                        help="samples read per throughput test (default: all)")
    parser.add_argument("--pool", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--out", default=str(HERE / "results" / "reading.md"))
    args = parser.parse_args(argv)

    from skquake.datasets import QuakeSet, make_quakeset

    lines = [f"Command: `{shlex.join(['python', 'benchmarks/bench_reading.py'] + argv)}`",
             "", f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
             f"{os.cpu_count()} CPU cores; load average at start "
             f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min); the machine is shared "
             "with other jobs, so figures vary from run to run. Warm page cache (files read right "
             "after being written). Cache rows read into one reused buffer.", ""]

    def say(text):
        print(text, flush=True)
        lines.append(text)

    generated = args.data is None
    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    if generated:
        path = work / f"reading_{args.patch_size}.h5"
        start = time.perf_counter()
        make_quakeset(path, n_events=args.n_events, patch_size=args.patch_size,
                      patches_per_event=args.patches_per_event, random_state=args.random_state,
                      overwrite=True)
        gen_s = time.perf_counter() - start
    else:
        path = Path(args.data)
    try:
        start = time.perf_counter()
        ds = QuakeSet(path, split="all")
        open_s = time.perf_counter() - start
        n = len(ds)
        c, h, w = ds.image_shape
        size_mib = path.stat().st_size / 2**20
        say("| figure | value |\n| --- | --- |")
        say(f"| file | {path.name}: {len(set(ds.groups))} events, {n} samples, images {h} x {w}, "
            f"{size_mib:.0f} MiB on disk |")
        if generated:
            say(f"| generation (make_quakeset) | {gen_s:.1f} s |")
        say(f"| open (index only) | {open_s * 1000:.0f} ms |")
        rng = np.random.default_rng(0)
        n_read = min(n, args.n_samples or n)
        order = rng.permutation(n)[:n_read]
        sps, mibs = read_random(ds, order)
        ds.close()
        say(f"| QuakeSet.__getitem__, random order, {c} x {h} x {w} | {sps:.1f} samples/s "
            f"({mibs:.0f} MiB/s of float32 output), {n_read} samples |")
        sps2 = read_loader(ds, n_read, seed=0)
        say(f"| DataLoader(num_workers=2, batch_size=8), random order | {sps2:.1f} samples/s, "
            f"{n_read} samples |")
        base = child_memory(path, 0)
        mem = child_memory(path, args.pool)
        peak = mem["peak_rss_kib"] * 1024
        base_b = base["peak_rss_kib"] * 1024
        unpooled = n * c * h * w * 4
        say(f"| load_quakeset(split='all', pool={args.pool}) | {mem['seconds']:.1f} s, X "
            f"{tuple(mem['shape'])} = {mem['nbytes'] / 2**20:.0f} MiB |")
        say(f"| peak RSS of that child process | {peak / 2**20:.0f} MiB (a child that only "
            f"imports skquake: {base_b / 2**20:.0f} MiB; so {(peak - base_b) / 2**20:.0f} MiB for "
            f"loading) |")
        say(f"| unpooled X would be | {unpooled / 2**20:.0f} MiB |")
        compare_cache(path, work, say, args.keep)
    finally:
        if generated and not args.keep:
            path.unlink(missing_ok=True)
    lines.append("")
    lines.append(f"Load average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}.")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
