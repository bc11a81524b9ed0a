"""Regression + pairwise ranking against regression alone, same backbone, several seeds.

    python benchmarks/bench_ranking.py [--data FILE] [--backbone resnet10t] [--epochs 10]
                                       [--lr 1e-3] [--seeds 0 1 2] [--pairing half] [--pool 2]
                                       [--no-standardize-target] [--threads 1]

Without ``--data`` it uses the quick profile's built-in synthetic file
(``skquake.benchmark.default_data_file``, written to the cache on first use). Trains ``QuakeRegressor`` on the file's train split with
``criterion=MSELoss`` and with ``criterion=RegressionRankingLoss`` (the ranking paper's MSE +
margin ranking, 1:1, margin 0.02), everything else equal (recipe defaults: AdamW, one-cycle
with 10% warm-up per batch, batch 16, decibels, flips, clamp [0, 10], target standardised
inside the regressor), and reports on the test
split: MAE, detection accuracy (predicted magnitude >= 1) and Spearman correlation, mean and
standard deviation over the seeds.

Prints the figures and writes ``benchmarks/results/ranking.md`` with the command on top.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from skquake.datasets import load_quakeset
from skquake.models.deep import QuakeRegressor, RegressionRankingLoss
from skquake.metrics import magnitude_accuracy_score, spearman_score

from _common import HERE, command_line, quakeset_path, write_report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="QuakeSet HDF5 file (default: the default synthetic file)")
    # The quick benchmark profile's deep setting: resnet10t at 32 x 32, 10 epochs, lr 1e-3
    # (mobilenetv2_100 learns nothing from scratch on this file within a CPU budget, docs/deep.md).
    p.add_argument("--backbone", default="resnet10t")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pairing", default="half", choices=["half", "all"])
    p.add_argument("--pool", type=int, default=2, help="average pooling of the images (load_quakeset)")
    p.add_argument("--no-standardize-target", dest="standardize_target", action="store_false",
                   help="train on raw magnitudes (QuakeRegressor(standardize_target=False))")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(HERE / "results" / "ranking.md"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = command_line(__file__, argv)
    load_start = os.getloadavg()

    path = quakeset_path(args.data)
    X_train, y_train, _ = load_quakeset(path, split="train", target="magnitude", pool=args.pool)
    X_test, y_test, _ = load_quakeset(path, split="test", target="magnitude", pool=args.pool)
    print(f"{path}: train {X_train.shape}, test {X_test.shape}", flush=True)

    variants = {
        "MSE": dict(criterion=torch.nn.MSELoss),
        f"MSE + ranking ({args.pairing}, 1:1, margin 0.02)": dict(
            criterion=RegressionRankingLoss, criterion__pairing=args.pairing),
    }
    rows = {name: [] for name in variants}
    for seed in args.seeds:
        for name, params in variants.items():
            reg = QuakeRegressor(args.backbone, max_epochs=args.epochs, lr=args.lr,
                                 batch_size=args.batch_size, random_state=seed,
                                 standardize_target=args.standardize_target, **params)
            t = time.perf_counter()
            reg.fit(X_train, y_train)
            fit_s = time.perf_counter() - t
            pred = reg.predict(X_test)
            row = {
                "mae": float(np.mean(np.abs(pred - y_test))),
                "acc": float(magnitude_accuracy_score(y_test, pred)),
                "spearman": float(spearman_score(y_test, pred)),
                "fit_s": fit_s,
            }
            rows[name].append(row)
            print(f"seed {seed} {name}: MAE {row['mae']:.3f}, accuracy {row['acc']:.3f}, "
                  f"Spearman {row['spearman']:.3f}, fit {fit_s:.0f} s", flush=True)
    load_end = os.getloadavg()

    def ms(name, key, fmt="{:.3f}"):
        v = np.array([r[key] for r in rows[name]])
        return f"{fmt.format(v.mean())} ± {fmt.format(v.std(ddof=1) if len(v) > 1 else 0.0)}"

    lines = [
        f"Command: `{command.strip()}`",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} CPU cores "
        f"(torch threads {args.threads}); load average at start {load_start[0]:.1f} / {load_start[1]:.1f} / "
        f"{load_start[2]:.1f}, at end {load_end[0]:.1f} / {load_end[1]:.1f} / {load_end[2]:.1f} "
        "(the machine was shared with other jobs: fit times are indicative only).",
        "",
        f"Data: `{path.name}`, train {len(y_train)} samples, test {len(y_test)} samples, "
        f"images {X_train.shape[1]} x {X_train.shape[2]} x {X_train.shape[3]} (pool {args.pool}). Backbone {args.backbone}, "
        f"{args.epochs} epochs, lr {args.lr:g}, batch {args.batch_size}, "
        f"standardize_target={args.standardize_target}, other arguments at the recipe defaults. "
        f"Seeds {', '.join(map(str, args.seeds))}; mean ± standard deviation (ddof=1) over seeds.",
        "",
        "| loss | MAE | detection accuracy (pred >= 1) | Spearman | fit (s) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in variants:
        lines.append(f"| {name} | {ms(name, 'mae')} | {ms(name, 'acc')} | {ms(name, 'spearman')} | "
                     f"{ms(name, 'fit_s', '{:.0f}')} |")
    lines += ["", "Per seed:", "", "| loss | seed | MAE | accuracy | Spearman |", "| --- | --- | --- | --- | --- |"]
    for name in variants:
        for seed, r in zip(args.seeds, rows[name]):
            lines.append(f"| {name} | {seed} | {r['mae']:.3f} | {r['acc']:.3f} | {r['spearman']:.3f} |")
    text = "\n".join(lines) + "\n"
    write_report(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
