"""Empirical coverage and width of conformal 90% intervals for magnitude, per model, split and
cross conformal, over several seeds.

    python benchmarks/bench_conformal.py [--data FILE] [--models svr-rbf rfr-change]
                                         [--deep resnet10t-rank] [--deep-epochs 3]
                                         [--seeds 0 1 2 3 4] [--confidence 0.9] [--pool 2]
                                         [--threads 1]

Without ``--data`` it uses the quick profile's built-in synthetic file
(``skquake.benchmark.default_data_file``). Each model is wrapped in
``skquake.uncertainty.ConformalRegressor`` and fitted on the file's train + validation splits
with the event ids as groups (the calibration set / folds never split an event): split
conformal (25% of the events for calibration) and cross conformal (CV+, 5 folds by event).
Coverage (fraction of test magnitudes inside their interval) and mean interval width are
measured on the test split with the registry's ``coverage`` and ``interval_width`` metrics.
The seed draws the calibration set / folds and seeds the model. ``--deep`` models are run with
split conformal only (cross conformal costs 6 trainings per seed), ``--deep-epochs`` epochs.

Prints the figures and writes ``benchmarks/results/conformal.md`` with the command on top.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from skquake.datasets import load_quakeset
from skquake.metrics import get_metric
from skquake.models import create_model
from skquake.uncertainty import ConformalRegressor

from _common import HERE, command_line, quakeset_path, write_report


def _model(name, seed, deep_epochs):
    if name.startswith(("resnet", "mobilenet", "convnext", "mobilevit", "pvt")):
        return create_model(name, max_epochs=deep_epochs, random_state=seed)
    return create_model(name, random_state=seed)


def _run(name, method, seed, data, args):
    X_fit, y_fit, g_fit, X_test, y_test = data
    reg = ConformalRegressor(_model(name, seed, args.deep_epochs), method=method,
                             confidence_level=args.confidence, random_state=seed)
    t = time.perf_counter()
    reg.fit(X_fit, y_fit, groups=g_fit)
    fit_s = time.perf_counter() - t
    intervals = reg.predict_interval(X_test)
    return {
        "coverage": get_metric("coverage").compute(y_test, y_interval=intervals),
        "width": get_metric("interval_width").compute(y_test, y_interval=intervals),
        "mae": float(np.mean(np.abs(reg.predict(X_test) - y_test))),
        "fit_s": fit_s,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="QuakeSet HDF5 file (default: the default synthetic file)")
    p.add_argument("--models", nargs="+", default=["svr-rbf", "rfr-change"])
    p.add_argument("--deep", nargs="*", default=["resnet10t-rank"], help="deep models (split conformal only)")
    p.add_argument("--deep-epochs", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--confidence", type=float, default=0.9)
    p.add_argument("--pool", type=int, default=2, help="average pooling of the images (load_quakeset)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(HERE / "results" / "conformal.md"))
    args = p.parse_args(argv)
    import torch  # torch: only to cap its threads

    torch.set_num_threads(args.threads)
    command = command_line(__file__, argv)
    load_start = os.getloadavg()

    path = quakeset_path(args.data)
    parts = [load_quakeset(path, split=s, target="magnitude", pool=args.pool) for s in ("train", "val")]
    X_fit = np.concatenate([p_[0] for p_ in parts])
    y_fit = np.concatenate([p_[1] for p_ in parts])
    g_fit = np.concatenate([p_[2] for p_ in parts])
    X_test, y_test, g_test = load_quakeset(path, split="test", target="magnitude", pool=args.pool)
    print(f"{path}: fit {X_fit.shape} ({np.unique(g_fit).size} events), test {X_test.shape}", flush=True)
    data = (X_fit, y_fit, g_fit, X_test, y_test)

    plan = [(m, method) for m in args.models for method in ("split", "cross")] + [(m, "split") for m in args.deep]
    rows = {key: [] for key in plan}
    for seed in args.seeds:
        for key in plan:
            row = _run(*key, seed, data, args)
            rows[key].append(row)
            print(f"seed {seed} {key[0]} {key[1]}: coverage {row['coverage']:.3f}, width {row['width']:.2f}, "
                  f"MAE {row['mae']:.3f}, fit {row['fit_s']:.1f} s", flush=True)
    load_end = os.getloadavg()

    def ms(key, field, fmt="{:.3f}"):
        v = np.array([r[field] for r in rows[key]])
        return f"{fmt.format(v.mean())} ± {fmt.format(v.std(ddof=1) if len(v) > 1 else 0.0)}"

    n_test = len(y_test)
    se = np.sqrt(args.confidence * (1 - args.confidence) / n_test)
    lines = [
        f"Command: `{command.strip()}`",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} CPU cores "
        f"(torch threads {args.threads}); load average at start {load_start[0]:.1f} / {load_start[1]:.1f} / "
        f"{load_start[2]:.1f}, at end {load_end[0]:.1f} / {load_end[1]:.1f} / {load_end[2]:.1f} "
        "(shared machine: fit times are indicative only).",
        "",
        f"Data: `{path.name}`; fit on train + validation, {len(y_fit)} samples of {np.unique(g_fit).size} events; "
        f"test {n_test} samples of {np.unique(g_test).size} events; images {X_fit.shape[1]} x {X_fit.shape[2]} x "
        f"{X_fit.shape[3]} (pool {args.pool}). Target {args.confidence:.0%} intervals; split = 25% of the events "
        "for calibration, cross = CV+ over 5 folds by event. Deep models: split only, "
        f"{args.deep_epochs} epochs, other arguments at the registry's defaults. Seeds "
        f"{', '.join(map(str, args.seeds))}; mean ± standard deviation (ddof=1) over seeds.",
        "",
        f"The test split is the same for every seed: its {n_test} samples alone make a coverage estimate "
        f"uncertain by about ±{se:.3f} (one binomial standard error at {args.confidence:.0%}), which the "
        "mean over seeds does not average away.",
        "",
        "| model | method | coverage | width (magnitude units) | test MAE | fit (s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key in plan:
        lines.append(f"| {key[0]} | {key[1]} | {ms(key, 'coverage')} | {ms(key, 'width', '{:.2f}')} | "
                     f"{ms(key, 'mae')} | {ms(key, 'fit_s', '{:.1f}')} |")
    lines += ["", "Per seed:", "", "| model | method | seed | coverage | width |", "| --- | --- | --- | --- | --- |"]
    for key in plan:
        for seed, r in zip(args.seeds, rows[key]):
            lines.append(f"| {key[0]} | {key[1]} | {seed} | {r['coverage']:.3f} | {r['width']:.2f} |")
    write_report("\n".join(lines) + "\n", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
