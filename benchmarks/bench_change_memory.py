"""Peak memory of predicting change masks: streaming a lazy QuakeSet versus loading the split first.

Writes a synthetic file (default: 40 events of 256 x 256, 1-2 patches each) under a temporary
folder, then, each in a fresh child process (so that ``ru_maxrss`` is that run's alone), predicts
the masks of every pair of the file with a change model, side by side:

* ``stream``: ``model.predict(QuakeSet(path))``, pairs read and scored one at a time; the result
  ``(n, H, W)`` uint8 is the only thing that grows with the file;
* ``iter``: ``model.iter_predict(QuakeSet(path))``, one mask at a time, nothing kept (what a
  writer of per-pair outputs does);
* ``loaded``: ``X = load_quakeset(path)`` first (the whole split in memory as float32), then
  ``model.predict(X)``.

Memory is measured two ways: the peak of Python's and numpy's allocations during prediction
(``tracemalloc``, reading included, the fit excluded: ``reset_peak`` after it), and the child's
peak RSS (``ru_maxrss``, imports and fit included). The report gives both, the ratio loaded /
stream, and the streaming peak in units of one pair's image (4 x H x W float32).

    python benchmarks/bench_change_memory.py                   # ~1-2 min on 2 cores
    python benchmarks/bench_change_memory.py --n-events 10 --patch-size 128 --models change-logratio-otsu
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, command_line, write_report  # noqa: E402

_MODES = ("stream", "iter", "loaded")


# ----------------------------------------------------------------------------- child side
def _child(spec):
    import tracemalloc

    import numpy as np

    # The factory is taken from the change family itself: create_model() would also import the
    # deep and damage families (torch), whose memory is not the detector's.
    import skquake.models.change._entries as entries
    from skquake.datasets import QuakeSet, load_quakeset

    model = getattr(entries, spec["model"].replace("-", "_"))(**spec["overrides"])
    t0 = time.perf_counter()
    with QuakeSet(spec["path"], split="train") as train:
        model.fit(train)  # streamed too; not part of the measured peak
    fit_s = time.perf_counter() - t0
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    if spec["mode"] == "loaded":
        X, _, _ = load_quakeset(spec["path"], split="all")
        masks = model.predict(X)
        n, shape = len(masks), masks.shape[1:]
    else:
        ds = QuakeSet(spec["path"], split="all")
        if spec["mode"] == "stream":
            masks = model.predict(ds)
            n, shape = len(masks), masks.shape[1:]
        else:
            n = 0
            for mask in model.iter_predict(ds):
                n, shape = n + 1, mask.shape
        ds.close()
    predict_s = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"n_pairs": n, "shape": list(shape), "fit_s": fit_s, "predict_s": predict_s, "traced_peak_MiB": peak / 2**20,
            "pair_MiB": 4 * 4 * int(np.prod(shape)) / 2**20,
            "peak_rss_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# ----------------------------------------------------------------------------- parent side
def _run_child(spec):
    cmd = [sys.executable, __file__, "--child", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        row = {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    else:
        row = json.loads(proc.stdout.strip().splitlines()[-1])
    row.update(model=spec["model"], mode=spec["mode"], loadavg=os.getloadavg()[0])
    print(json.dumps(row), flush=True)
    return row


def _table(rows):
    lines = ["| model | path | pairs | predict s | traced peak MiB | in pair images | peak RSS MiB | load avg |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['mode']} | failed: {r['error']} | | | | | |")
            continue
        lines.append(f"| {r['model']} | {r['mode']} | {r['n_pairs']} | {r['predict_s']:.1f} | "
                     f"{r['traced_peak_MiB']:.1f} | {r['traced_peak_MiB'] / r['pair_MiB']:.1f} | "
                     f"{r['peak_rss_MiB']:.0f} | {r['loadavg']:.1f} |")
    return "\n".join(lines)


def _ratios(rows):
    out = []
    by = {(r["model"], r["mode"]): r for r in rows if "error" not in r}
    for model in dict.fromkeys(r["model"] for r in rows):
        if (model, "stream") in by and (model, "loaded") in by:
            s, lo = by[model, "stream"], by[model, "loaded"]
            out.append(f"- {model}: loaded / stream = {lo['traced_peak_MiB'] / s['traced_peak_MiB']:.1f}x "
                       f"(traced), {lo['peak_rss_MiB'] / s['peak_rss_MiB']:.2f}x (RSS, imports included)")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-events", type=int, default=40)
    parser.add_argument("--patch-size", type=int, default=256)
    parser.add_argument("--models", nargs="+", default=["change-logratio-otsu", "change-novelty-gmm"])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "change_memory.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0

    from skquake.datasets import QuakeSet, make_quakeset

    command = command_line(__file__, argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = make_quakeset(Path(tmp) / "change.h5", n_events=args.n_events, patch_size=args.patch_size,
                             random_state=0)
        size_mb = path.stat().st_size / 2**20
        with QuakeSet(path, split="all") as ds:
            n_all = len(ds)
        rows = [_run_child(dict(model=m, mode=mode, path=str(path), overrides={}))
                for m in args.models for mode in _MODES]
    report = "\n".join([
        "# Change detection: peak memory of predicting masks, streamed or loaded",
        "",
        "Command:",
        "",
        f"    {command}",
        "",
        f"Run {datetime.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()} (shared with other jobs: load average in the table).",
        f"Synthetic file: make_quakeset(n_events={args.n_events}, patch_size={args.patch_size}, random_state=0), "
        f"{n_all} pairs, {size_mb:.0f} MiB on disk; one pair's image (4 x {args.patch_size} x {args.patch_size} "
        f"float32) is {16 * args.patch_size**2 / 2**20:.1f} MiB, its mask (uint8) {args.patch_size**2 / 2**20:.2f} MiB.",
        "Each row is one child process: fit on the train split (streamed), then predict the masks of every pair "
        "of the file. 'traced peak' is tracemalloc's peak during prediction (reading included), 'in pair images' "
        "the same divided by one pair's image; 'peak RSS' is the child's ru_maxrss (imports, fit and "
        "prediction).",
        "",
        _table(rows),
        "",
        "Ratios:",
        "",
        *_ratios(rows),
        "",
    ])
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
