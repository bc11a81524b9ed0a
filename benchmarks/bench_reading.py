"""Reading throughput and pooled-loading memory on a full-resolution (512 x 512) QuakeSet file.

    python benchmarks/bench_reading.py [--data FILE] [--n-events 100] [--patches-per-event 2]

Without ``--data`` it writes a synthetic 512 x 512 file under ``benchmarks/_work/`` (git-ignored;
deleted afterwards unless ``--keep``). Measures, and prints and writes to
``benchmarks/results/reading.md``:

* the time to open the dataset (index only),
* samples/s reading full-resolution bitemporal samples in random order through
  ``QuakeSet.__getitem__`` and through a torch DataLoader with 2 workers,
* the peak resident memory of ``load_quakeset(split="all", pool=4)`` in a fresh child
  process, against the size of its result and the size of the unpooled data.

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

    from skquake.datasets import QuakeSet
    from skquake.datasets import make_quakeset

    lines = [f"Command: `{shlex.join(['python', 'benchmarks/bench_reading.py'] + argv)}`",
             "", f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
             f"{os.cpu_count()} CPU cores; load average at start "
             f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min).", ""]

    def say(text):
        print(text, flush=True)
        lines.append(text)

    generated = args.data is None
    if generated:
        work = HERE / "_work"
        work.mkdir(exist_ok=True)
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
