"""Why deep models learned nothing on the default synthetic file: the measurements behind the fix.

    python benchmarks/bench_deep_diagnosis.py [--data FILE] [--epochs 10] [--seed 0] [--threads 1]

Part 1 (no training): the spread of a fresh network's output (one output, 16 random 4 x 64 x 64
inputs, training mode) with timm's own head init and with skquake's head inits
(``build_backbone(head_init=...)``).

Part 2: train on the default synthetic file's train split at 32 x 32 (2 x 2 pooling, the quick
benchmark's size) and score its test split: detection accuracy of ``QuakeClassifier`` and MAE /
Spearman of ``QuakeRegressor`` for a few backbones and settings (lr 1e-3, ``--epochs`` epochs,
one seed), next to the old setting (timm head init, raw targets). Writes
``benchmarks/results/deep_diagnosis.md`` with the command on top.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from _common import HERE, command_line, quakeset_path


def head_spread():
    from skquake.models.deep import build_backbone

    rows = []
    x = torch.randn(16, 4, 64, 64, generator=torch.Generator().manual_seed(0))
    for name in ("mobilenetv2_100", "resnet10t", "resnet18", "convnextv2_atto", "pvt_v2_b0"):
        stds = []
        for init in ("timm", "auto", "fan_in"):
            torch.manual_seed(0)
            model = build_backbone(name, 4, 1, head_init=init).train()
            with torch.no_grad():
                stds.append(float(model(x).std()))
        rows.append((name, *stds))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="QuakeSet HDF5 file (default: the default synthetic file)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(HERE / "results" / "deep_diagnosis.md"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from scipy.stats import spearmanr

    from skquake.datasets import load_quakeset
    from skquake.models.deep import QuakeClassifier, QuakeRegressor

    command = command_line(__file__, argv)
    load_start = os.getloadavg()
    path = quakeset_path(args.data)

    lines = [f"Command: `{command.strip()}`", ""]
    spread = head_spread()
    lines += ["Output std of a fresh network (one output, 16 random 4 x 64 x 64 inputs, training mode):",
              "", "| backbone | `head_init=\"timm\"` | `\"auto\"` (skquake default) | `\"fan_in\"` |",
              "| --- | --- | --- | --- |"]
    lines += [f"| {n} | {a:.2f} | {b:.2f} | {c:.2f} |" for n, a, b, c in spread]
    print("\n".join(lines), flush=True)

    data = {}
    for target in ("label", "magnitude"):
        for split in ("train", "test"):
            X, y, _ = load_quakeset(path, split=split, target=target, pool=2)
            data[target, split] = (X, y)
    ep, seed = args.epochs, args.seed
    old = dict(module__head_init="timm")
    det_runs = [
        ("mobilenetv2_100, old defaults (3 epochs, lr 1e-4, timm head)", dict(max_epochs=3, lr=1e-4, **old)),
        ("mobilenetv2_100, timm head", dict(max_epochs=ep, lr=1e-3, **old)),
        ("mobilenetv2_100", dict(max_epochs=ep, lr=1e-3)),
        ("resnet18", dict(backbone="resnet18", max_epochs=ep, lr=1e-3)),
        ("resnet10t, 3 epochs, lr 1e-4", dict(backbone="resnet10t", max_epochs=3, lr=1e-4)),
        ("resnet10t", dict(backbone="resnet10t", max_epochs=ep, lr=1e-3)),
    ]
    reg_runs = [
        ("mobilenetv2_100, old defaults (3 epochs, lr 1e-4, timm head, raw target)",
         dict(max_epochs=3, lr=1e-4, standardize_target=False, **old)),
        ("mobilenetv2_100", dict(max_epochs=ep, lr=1e-3)),
        ("resnet10t, raw target", dict(backbone="resnet10t", max_epochs=ep, lr=1e-3, standardize_target=False)),
        ("resnet10t", dict(backbone="resnet10t", max_epochs=ep, lr=1e-3)),
    ]
    table = ["", f"Default synthetic file `{path.name}`, 32 x 32 (pool 2), batch 16, seed {seed}, test split; "
             "other arguments at the estimator defaults (head_init auto, standardize_target=True):", "",
             "| model | setting | train loss, first -> last epoch | test accuracy | test MAE | test Spearman | fit (s) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for kind, runs in (("det", det_runs), ("reg", reg_runs)):
        for name, kw in runs:
            target = "label" if kind == "det" else "magnitude"
            est = (QuakeClassifier if kind == "det" else QuakeRegressor)(random_state=seed, **kw)
            t = time.perf_counter()
            est.fit(*data[target, "train"])
            fit_s = time.perf_counter() - t
            X, y = data[target, "test"]
            pred = est.predict(X)
            loss = est.history[:, "train_loss"]
            if kind == "det":
                cells = (f"{np.mean(pred == y):.3f}", "", "")
            else:
                cells = (f"{np.mean((pred >= 1) == (y >= 1)):.3f}", f"{np.mean(np.abs(pred - y)):.3f}",
                         f"{spearmanr(pred, y)[0]:.3f}")
            row = (f"| {'QuakeClassifier' if kind == 'det' else 'QuakeRegressor'} | {name} | "
                   f"{loss[0]:.2f} -> {loss[-1]:.2f} | {' | '.join(cells)} | {fit_s:.0f} |")
            table.append(row)
            print(row, flush=True)
    mae_mean = np.mean(np.abs(data["magnitude", "test"][1] - data["magnitude", "train"][1].mean()))
    load_end = os.getloadavg()
    table += ["", f"Predicting the train mean magnitude gives a test MAE of {mae_mean:.3f}; "
              "the majority class a detection accuracy of "
              f"{max(np.mean(data['label', 'test'][1]), 1 - np.mean(data['label', 'test'][1])):.3f}.",
              "", f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, torch threads {args.threads}, "
              f"load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end (2 shared cores)."]
    text = "\n".join(lines + table) + "\n"
    print("\n".join(table[-4:]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
