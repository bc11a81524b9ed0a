"""Peak memory and fit time of the shallow pipelines at full QuakeSet size.

Writes a synthetic file the size of the real one (default: 1,232 events, 1-2 patches each,
about 3,327 samples of 4 x 512 x 512, about 11 GB) under ``benchmarks/_work/``, then, each in a
fresh child process (so that ``ru_maxrss`` is the peak of that run alone):

* the default registered pipelines on all samples, read with ``load_quakeset(..., pool=4)``
  (what docs/shallow.md recommends); the child's peak includes reading the data;
* the paper's recipe, PCA on flattened full-resolution images (the pipeline with
  ``pool__max_size=None``), on the first ``--paper-subset`` samples, next to the default
  pipeline on the same subset.

Figures are printed and written to ``benchmarks/results/shallow_memory.md`` (and ``.json``) with
the command at the top. The synthetic file is deleted at the end unless ``--keep`` (a kept file is reused by the next
run; ``--append`` adds that run's rows to the report).

    python benchmarks/bench_shallow_memory.py               # full size, ~30+ min on 2 cores
    python benchmarks/bench_shallow_memory.py --n-events 30 --patch-size 128 --paper-subset 20  # smoke
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Bytes on disk per event at 512 x 512 with patches_per_event=2, measured on the generator.
_BYTES_PER_EVENT_512 = 8.9e6
_TARGET = {"magnitude": "magnitude", "detection": "label"}


# ----------------------------------------------------------------------------- child side
def _read_subset(path, n, pool):
    """First ``n`` samples of the file, pooled while reading (no full-size intermediate)."""
    import numpy as np

    from skquake.datasets import QuakeSet
    from skquake.preprocessing import average_pool

    ds = QuakeSet(path, split="all")
    n = min(n, len(ds))
    c, h, w = ds.image_shape
    X = np.empty((n, c, h // pool, w // pool), dtype=np.float32)
    for i in range(n):
        average_pool(ds.read_image(i), pool, out=X[i])
    ds.close()
    return X, ds.labels[:n].copy(), ds.magnitudes[:n].copy()


def _child(spec):
    import numpy as np

    # The factory is taken from the shallow family itself: create_model() would also import the
    # deep and damage modules (torch), whose memory is not the pipeline's.
    import skquake.models.shallow._pipelines as shallow
    from skquake.datasets import load_quakeset

    factory = getattr(shallow, spec["model"].replace("-", "_"))
    task = "magnitude" if spec["model"].startswith(("svr", "rfr")) else "detection"
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30
    t0 = time.perf_counter()
    if spec["subset"]:
        X, labels, mags = _read_subset(spec["path"], spec["subset"], spec["pool"])
        y = mags if task == "magnitude" else labels
    else:
        X, y, _ = load_quakeset(spec["path"], split="all", target=_TARGET[task], pool=spec["pool"])
    load_s = time.perf_counter() - t0
    model = factory(**spec["overrides"])
    t0 = time.perf_counter()
    model.fit(X, y)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.predict(X[:32])
    predict_ms = (time.perf_counter() - t0) / min(32, len(X)) * 1e3
    return {
        "n_samples": int(len(X)),
        "X_shape": list(X.shape),
        "X_GiB": X.nbytes / 2**30,
        # The change-statistics pipelines have no PCA step.
        "n_pca_features": int(model.named_steps["pca"].n_components_) if "pca" in model.named_steps else None,
        "load_s": load_s,
        "fit_s": fit_s,
        "predict_ms_per_sample": predict_ms,
        "base_rss_GiB": base_rss,
        "peak_rss_GiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30,
        "dtype": str(np.asarray(X).dtype),
    }


# ----------------------------------------------------------------------------- parent side
def _run_child(spec, log):
    cmd = [sys.executable, __file__, "--child", json.dumps(spec)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        row = {"error": (proc.stderr.strip().splitlines() or ["?"])[-1], "returncode": proc.returncode}
    else:
        row = json.loads(proc.stdout.strip().splitlines()[-1])
    row.update(spec_label=spec["label"], model=spec["model"], wall_s=wall, loadavg=os.getloadavg()[0])
    print(json.dumps(row), file=log, flush=True)
    print(json.dumps(row), flush=True)
    return row


def _table(rows):
    head = ("| run | model | samples | X in memory | PCA features | read s | fit s | predict ms/sample "
            "| peak RSS GiB (after imports) | load avg |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['spec_label']} | {r['model']} | failed: {r['error']} | | | | | | | |")
            continue
        shape = " x ".join(map(str, r["X_shape"]))
        lines.append(
            f"| {r['spec_label']} | {r['model']} | {r['n_samples']} | {shape} ({r['X_GiB']:.2f} GiB) | "
            f"{r['n_pca_features'] if r.get('n_pca_features') is not None else '-'} | {r['load_s']:.0f} | "
            f"{r['fit_s']:.0f} | {r['predict_ms_per_sample']:.1f} | "
            f"{r['peak_rss_GiB']:.2f} ({r['base_rss_GiB']:.2f}) | {r['loadavg']:.1f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-events", type=int, default=1232)
    parser.add_argument("--patch-size", type=int, default=512)
    parser.add_argument("--patches-per-event", type=int, default=2)
    parser.add_argument("--pool", type=int, default=4, help="pooling while reading for the default runs")
    parser.add_argument("--models", nargs="+", default=["svr-rbf", "svc-rbf", "rfr", "rfc"])
    parser.add_argument("--paper-subset", type=int, default=300,
                        help="samples for the full-resolution (paper) recipe; 0 skips it")
    parser.add_argument("--paper-models", nargs="+", default=["svr-rbf"])
    parser.add_argument("--work-dir", type=Path, default=HERE / "_work")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "shallow_memory.md")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic file (and reuse it next time)")
    parser.add_argument("--append", action="store_true",
                        help="add the rows to those already in the .json next to --out (e.g. more models on a kept file)")
    parser.add_argument("--note", default="", help="a line written under the commands in the report")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0

    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, HERE.parent)] + list(argv or sys.argv[1:]))
    args.work_dir.mkdir(parents=True, exist_ok=True)
    path = args.work_dir / f"quakeset_{args.n_events}x{args.patch_size}_p{args.patches_per_event}.h5"
    need = _BYTES_PER_EVENT_512 * args.n_events * (args.patch_size / 512) ** 2 * (args.patches_per_event + 1) / 3
    free = shutil.disk_usage(args.work_dir).free
    gen_s = None
    if not path.exists():
        if free < 1.2 * need:
            raise SystemExit(f"not enough disk under {args.work_dir}: need ~{need / 1e9:.1f} GB, {free / 1e9:.1f} GB free")
        from skquake.datasets import make_quakeset

        print(f"writing {path} (~{need / 1e9:.1f} GB) ...", flush=True)
        t0 = time.perf_counter()
        make_quakeset(path, n_events=args.n_events, patch_size=args.patch_size,
                      patches_per_event=args.patches_per_event, random_state=0)
        gen_s = time.perf_counter() - t0
    size_gb = path.stat().st_size / 1e9

    specs = [dict(label=f"default, read with pool={args.pool}", model=m, path=str(path), pool=args.pool,
                  subset=0, overrides={}) for m in args.models]
    if args.paper_subset:
        for m in args.paper_models:
            specs.append(dict(label=f"paper: full resolution, first {args.paper_subset}", model=m, path=str(path),
                              pool=1, subset=args.paper_subset, overrides={"pool__max_size": None}))
            specs.append(dict(label=f"default on the same {args.paper_subset}, pooled in the pipeline", model=m,
                              path=str(path), pool=1, subset=args.paper_subset, overrides={}))
    # The .log holds one JSON line per command and per finished row, so a stopped run keeps its
    # rows and --append adds to them; the report is rewritten after every row.
    log_path = args.out.with_suffix(".log")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    commands, rows = [], []
    if args.append and log_path.exists():
        for line in log_path.read_text().splitlines():
            record = json.loads(line)
            (commands.append(record["command"]) if "command" in record else rows.append(record))
    commands.append(command)
    try:
        with open(log_path, "a" if args.append else "w") as log:
            print(json.dumps({"command": command}), file=log, flush=True)
            for spec in specs:
                rows.append(_run_child(spec, log))
                _write_report(args.out, commands, rows, args, size_gb, gen_s)
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
    print(args.out.read_text())
    return 0


def _write_report(out, commands, rows, args, size_gb, gen_s):
    import sklearn

    header = [
        "# Shallow pipelines: peak memory and fit time at full size",
        "",
        "Command" + ("s (rows appended in this order):" if len(commands) > 1 else ":"),
        "",
        *[f"    {c}" for c in commands],
        "",
        *([args.note, ""] if args.note else []),
        f"Synthetic file: {args.n_events} events, {args.patch_size} x {args.patch_size}, up to "
        f"{args.patches_per_event} patches per event, {size_gb:.1f} GB on disk"
        + (f", written in {gen_s:.0f} s" if gen_s else "") + ".",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"scikit-learn {sklearn.__version__}; shared with other jobs (load average in the table).",
        "Each row is one child process: read the data, fit on all of it, predict 32 samples; peak RSS is the "
        "child's ru_maxrss (reading included). 'PCA features' is n_components_ after fit.",
        "",
        _table(rows),
        "",
    ]
    out.write_text("\n".join(header))
    out.with_suffix(".json").write_text(json.dumps({"commands": commands, "file_GB": size_gb,
                                                     "generate_s": gen_s, "rows": rows}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
