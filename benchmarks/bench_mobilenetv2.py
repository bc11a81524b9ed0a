"""Why mobilenetv2_100 does not learn the magnitude on the synthetic files while resnet10t does.

    python benchmarks/bench_mobilenetv2.py [--data FILE] [--runs NAME ...] [--seed 0] [--epochs N] [--threads 1]
                                           [--work DIR] [--out FILE]

Without ``--data`` it uses the built-in medium synthetic file (``make_quakeset(n_events=1000,
patch_size=64, patches_per_event=2, random_state=0)``). Each run trains one ``QuakeRegressor``
(magnitude, bitemporal, seed ``--seed``) on the train split with one candidate cause changed
against the reference setting (32 x 32 after 2 x 2 pooling, 10 epochs, lr 1e-3, the estimator's
defaults otherwise) and reports:

- the final feature map of the backbone at that input size;
- train loss (MSE, magnitude units squared) in the first and last epoch;
- MAE and Spearman on the train split with the network in training mode (BatchNorm normalising
  with the batch's statistics, batches of 16 as in training) and in evaluation mode (running
  statistics, what ``predict`` uses): a gap between the two is a BatchNorm train / eval mismatch;
- MAE, Spearman and detection accuracy (predicted magnitude >= 1) on the test split.

Each run's result is kept in ``--work`` (a JSON file per run) so the script resumes; ``--runs``
picks some of them (names below). Writes ``--out`` with the command on top.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from _common import HERE, claim, command_line, medium_quakeset_path, write_report

# name -> (description, backbone, pool, estimator arguments, input transform)
REF = {"max_epochs": 10, "lr": 1e-3}
RUNS = {
    "mnv2": ("mobilenetv2_100, reference (32 x 32, final map 1 x 1)", "mobilenetv2_100", 2, {}, None),
    "resnet10t": ("resnet10t, reference", "resnet10t", 2, {}, None),
    "mnv2-std-input": ("mobilenetv2_100, decibels clipped to >= -40 dB and standardised per channel "
                       "(train statistics)", "mobilenetv2_100", 2, {"decibels": False}, "standardise"),
    "mnv2-os8": ("mobilenetv2_100, output stride 8 (final map 4 x 4)", "mobilenetv2_100", 2,
                 {"module__output_stride": 8}, None),
    "mnv2-lr5e-3": ("mobilenetv2_100, lr 5e-3", "mobilenetv2_100", 2, {"lr": 5e-3}, None),
    "mnv2-recipe": ("mobilenetv2_100, the registered recipe (6 epochs, lr 1e-4)", "mobilenetv2_100", 2,
                    {"max_epochs": 6, "lr": 1e-4}, None),
    "mnv2-20ep": ("mobilenetv2_100, 20 epochs", "mobilenetv2_100", 2, {"max_epochs": 20}, None),
    "mnv2-64px": ("mobilenetv2_100, 64 x 64 (no pooling, final map 2 x 2)", "mobilenetv2_100", 1, {}, None),
    # where the transformers of the ranking study learn (benchmarks/results/transformer_lr.md)
    "mnv2-lr1e-4-40ep": ("mobilenetv2_100, lr 1e-4, 40 epochs", "mobilenetv2_100", 2,
                         {"max_epochs": 40, "lr": 1e-4}, None),
}


def standardise(X_train, *others, floor=-40.0):
    """Decibels clipped below at ``floor`` (the -90 dB of filled no-data pixels), then each channel
    standardised with the training split's mean and standard deviation."""
    from skquake.utils import to_decibels

    def db(X):
        return np.maximum(to_decibels(np.maximum(X, 0.0)), floor).astype(np.float32)

    train = db(X_train)
    mean = train.mean(axis=(0, 2, 3), keepdims=True)
    std = train.std(axis=(0, 2, 3), keepdims=True)
    return [(train - mean) / std] + [(db(X) - mean) / std for X in others]


def mode_scores(reg, X, y, batch=16):
    """Train-split MAE and Spearman with the network in training mode (batch statistics) and in
    evaluation mode (running statistics); both clamped to the estimator's range like predict."""
    import torch
    from scipy.stats import spearmanr

    out = {}
    for mode in ("train", "eval"):
        # A copy: a forward pass in training mode updates BatchNorm's running statistics.
        net = copy.deepcopy(reg.module_).train(mode == "train")
        net.flips = False
        with torch.no_grad():
            # Batches of about ``batch`` samples, never a single one (BatchNorm refuses it in training mode).
            parts = np.array_split(np.arange(len(X)), max(1, len(X) // batch))
            pred = torch.cat([net(torch.as_tensor(X[i])).reshape(-1) for i in parts]).numpy()
        pred = np.clip(pred, *reg.clamp)
        out[mode] = (float(np.mean(np.abs(pred - y))), float(spearmanr(pred, y)[0]))
    return out


def run_one(name, seed, path, epochs=None):
    import torch

    from skquake.datasets import load_quakeset
    from skquake.metrics import magnitude_accuracy_score, spearman_score
    from skquake.models.deep import QuakeRegressor

    _, backbone, pool, kwargs, transform = RUNS[name]
    X_train, y_train, _ = load_quakeset(path, split="train", target="magnitude", pool=pool)
    X_test, y_test, _ = load_quakeset(path, split="test", target="magnitude", pool=pool)
    if transform == "standardise":
        X_train, X_test = standardise(X_train, X_test)
    kwargs = {**REF, **kwargs, **({"max_epochs": epochs} if epochs else {})}
    reg = QuakeRegressor(backbone, random_state=seed, **kwargs)
    t = time.perf_counter()
    reg.fit(X_train, y_train)
    fit_s = time.perf_counter() - t
    pred = reg.predict(X_test)
    with torch.no_grad():
        features = copy.deepcopy(reg.module_.backbone).eval().forward_features(torch.zeros(2, *X_train.shape[1:]))
    loss = reg.history[:, "train_loss"]
    modes = mode_scores(reg, X_train, y_train)
    return {"name": name, "seed": seed, "input": list(X_train.shape[1:]), "features": list(features.shape[1:]),
            "loss_first": float(loss[0]), "loss_last": float(loss[-1]),
            "train_mae_trainmode": modes["train"][0], "train_spearman_trainmode": modes["train"][1],
            "train_mae_evalmode": modes["eval"][0], "train_spearman_evalmode": modes["eval"][1],
            "mae": float(np.mean(np.abs(pred - y_test))), "spearman": float(spearman_score(y_test, pred)),
            "acc": float(magnitude_accuracy_score(y_test, pred)), "fit_s": fit_s,
            "epochs": reg.max_epochs, "lr": reg.lr}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="QuakeSet HDF5 file (default: the built-in medium synthetic file)")
    p.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, help="every run's epochs instead of its own (a quick check)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", default=str(HERE / "_work" / "mobilenetv2"))
    p.add_argument("--out", default=str(HERE / "results" / "mobilenetv2_diagnosis.md"))
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    command = command_line(__file__, argv)
    load_start = os.getloadavg()
    path = medium_quakeset_path(args.data)
    work_dir = Path(args.work) / (path.stem + (f"_ep{args.epochs}" if args.epochs else ""))
    for name in args.runs:
        result = work_dir / f"{name}_seed{args.seed}.json"
        if result.exists() or not claim(work_dir / f"{name}_seed{args.seed}.claim"):
            continue
        row = run_one(name, args.seed, path, args.epochs)
        result.write_text(json.dumps(row))
        (work_dir / f"{name}_seed{args.seed}.claim").unlink(missing_ok=True)
        print(f"{name}: {row}", flush=True)
    rows = [json.loads((work_dir / f"{n}_seed{args.seed}.json").read_text()) for n in args.runs
            if (work_dir / f"{n}_seed{args.seed}.json").exists()]
    from skquake.datasets import load_quakeset

    _, y_train, _ = load_quakeset(path, split="train", target="magnitude", pool=8)
    _, y_test, _ = load_quakeset(path, split="test", target="magnitude", pool=8)
    load_end = os.getloadavg()
    lines = [
        f"Command: `{command.strip()}`",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (report written) on {os.cpu_count()} CPU "
        f"cores, torch threads {args.threads}; load average at start {load_start[0]:.1f}, at end "
        f"{load_end[0]:.1f} (a shared machine: fit times are indicative only).",
        "",
        f"Data: `{path.name}` (train {len(y_train)}, test {len(y_test)} samples), magnitude regression, "
        f"bitemporal, seed {args.seed}, batch 16; the estimator's defaults otherwise (AdamW, one-cycle, "
        "decibels, flips, standardised target, head init auto). Predicting the train mean gives a test MAE of "
        f"{np.mean(np.abs(y_test - y_train.mean())):.3f} (train {np.mean(np.abs(y_train - y_train.mean())):.3f}).",
        "",
        "| run | setting | input -> final map | epochs, lr | train loss first -> last | train MAE / Spearman, "
        "training mode | train MAE / Spearman, eval mode | test MAE | test Spearman | test accuracy | fit (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        c, h, w = r["input"]
        lines.append(
            f"| `{r['name']}` | {RUNS[r['name']][0]} | {h} x {w} -> {r['features'][1]} x {r['features'][2]} | "
            f"{r['epochs']}, {r['lr']:g} | {r['loss_first']:.2f} -> {r['loss_last']:.2f} | "
            f"{r['train_mae_trainmode']:.3f} / {r['train_spearman_trainmode']:.3f} | "
            f"{r['train_mae_evalmode']:.3f} / {r['train_spearman_evalmode']:.3f} | {r['mae']:.3f} | "
            f"{r['spearman']:.3f} | {r['acc']:.3f} | {r['fit_s']:.0f} |")
    lines += ["", "One run alone: `python benchmarks/bench_mobilenetv2.py --runs NAME` (the names in the first "
              "column; results are cached in the work folder, so the table collects every run done)."]
    write_report("\n".join(lines) + "\n", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
