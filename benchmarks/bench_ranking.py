"""Ranking study: MSE + pairwise ranking against MSE alone, paired per seed, several backbones and options.

    python benchmarks/bench_ranking.py [--data FILE] [--backbones resnet10t convnextv2_atto pvt_v2_b0]
                                       [--options-backbone resnet10t] [--epochs 10] [--lr 1e-3]
                                       [--seeds 0 1 2] [--pool 2] [--processes 1] [--threads 1]
                                       [--work DIR] [--out FILE] [--plot FILE]

Without ``--data`` it uses the built-in medium synthetic file (``make_quakeset(n_events=1000,
patch_size=64, patches_per_event=2, random_state=0)``, written to the cache on first use).
For every backbone and seed it trains ``QuakeRegressor`` on the file's train split with
``criterion=MSELoss`` and with ``criterion=RegressionRankingLoss`` (the ranking paper's MSE +
half-batch hinge ranking, margin 0.02, ties as in the paper, weight 1:1); on
``--options-backbone`` also with one ranking option changed at a time (all pairs, logistic,
ties ignored, ranking weight 3). Everything else is equal between the runs of one seed (the
recipe defaults: AdamW, one-cycle with 10% warm-up per batch, batch 16, decibels, flips, clamp
[0, 10], standardised target; the same ``random_state``, hence the same initial weights, batch
order and flips: no loss here draws random numbers).

It reports on the test split MAE, detection accuracy (predicted magnitude >= 1) and Spearman
correlation, and for each ranking variant the per-seed paired difference (ranking minus MSE, same
seed) with a 95% confidence interval ``mean +- t(0.975, n - 1) * sd / sqrt(n)`` over the n seeds.

Each run's result is kept in ``--work`` (a JSON file per run), so an interrupted study resumes,
and several copies can share the runs (``--processes 2`` starts a second copy itself). When every
run is done it writes ``--out`` (Markdown, the command on top) and ``--plot`` (PNG).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _common import HERE, claim, command_line, medium_quakeset_path, write_report

METRICS = (("mae", "MAE", "lower is better"), ("spearman", "Spearman", "higher is better"),
           ("acc", "detection accuracy", "higher is better"))
# Ranking variants: name -> RegressionRankingLoss arguments. "rank" is the ranking paper's loss;
# the others change one option of it and run on --options-backbone only.
RANK = {"pairing": "half", "kind": "hinge", "ties": "paper", "ranking_weight": 1.0}
OPTIONS = {
    "all pairs": {"pairing": "all"},
    "logistic": {"kind": "logistic"},
    "ties ignored": {"ties": "ignore"},
    "weight 3": {"ranking_weight": 3.0},
}


def runs(args):
    """Every run of the study, seed first so that a partial study still has whole seeds."""
    out = []
    for seed in args.seeds:
        for backbone in args.backbones:
            out += [(backbone, "mse", seed), (backbone, "rank", seed)]
            if backbone == args.options_backbone:
                out += [(backbone, name, seed) for name in OPTIONS]
    return out


def run_key(backbone, variant, seed):
    return f"{backbone}__{variant.replace(' ', '-')}__seed{seed}"


def fit_one(backbone, variant, seed, args, data):
    import torch

    from skquake.metrics import magnitude_accuracy_score, spearman_score
    from skquake.models.deep import QuakeRegressor, RegressionRankingLoss

    if variant == "mse":
        params = {"criterion": torch.nn.MSELoss}
    else:
        loss = {**RANK, **OPTIONS.get(variant, {})}
        params = {"criterion": RegressionRankingLoss, **{f"criterion__{k}": v for k, v in loss.items()}}
    (X_train, y_train), (X_test, y_test) = data
    reg = QuakeRegressor(backbone, max_epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                         random_state=seed, **params)
    t = time.perf_counter()
    reg.fit(X_train, y_train)
    fit_s = time.perf_counter() - t
    pred = reg.predict(X_test)
    loss = reg.history[:, "train_loss"]
    return {"backbone": backbone, "variant": variant, "seed": seed,
            "mae": float(np.mean(np.abs(pred - y_test))), "acc": float(magnitude_accuracy_score(y_test, pred)),
            "spearman": float(spearman_score(y_test, pred)), "fit_s": fit_s,
            "loss_first": float(loss[0]), "loss_last": float(loss[-1])}


def work(args, path, work_dir):
    """Do every run not yet done or claimed by a live process; return how many this process did."""
    import torch

    from skquake.datasets import load_quakeset

    torch.set_num_threads(args.threads)
    data = None
    done = 0
    for backbone, variant, seed in runs(args):
        key = run_key(backbone, variant, seed)
        result = work_dir / f"{key}.json"
        if result.exists() or not claim(work_dir / f"{key}.claim"):
            continue
        if data is None:
            data = tuple(load_quakeset(path, split=s, target="magnitude", pool=args.pool)[:2]
                         for s in ("train", "test"))
        row = fit_one(backbone, variant, seed, args, data)
        result.write_text(json.dumps(row))
        (work_dir / f"{key}.claim").unlink(missing_ok=True)
        done += 1
        print(f"[{os.getpid()}] {key}: MAE {row['mae']:.3f}, accuracy {row['acc']:.3f}, "
              f"Spearman {row['spearman']:.3f}, fit {row['fit_s']:.0f} s", flush=True)
    return done


def paired(rows, backbone, variant, key, seeds):
    """Per-seed differences (variant minus MSE) and their mean with a t 95% interval."""
    from scipy.stats import t as student

    d = np.array([rows[backbone, variant, s][key] - rows[backbone, "mse", s][key] for s in seeds])
    n = len(d)
    half = student.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
    return d, float(d.mean()), float(half)


def comparisons(args):
    out = [(b, "rank") for b in args.backbones]
    if args.options_backbone in args.backbones:
        out += [(args.options_backbone, name) for name in OPTIONS]
    return out


def learned(rows, backbone, seeds, mean_mae):
    """Whether the MSE model beat predicting the train mean (test MAE at least 2% lower): a paired
    difference between two models that both predict about the mean says nothing about ranking."""
    return np.mean([rows[backbone, "mse", s]["mae"] for s in seeds]) < 0.98 * mean_mae


def label(backbone, variant, learnt=True):
    loss = "ranking (paper: half, hinge, ties, 1:1)" if variant == "rank" else f"ranking, {variant}"
    return f"{backbone}: {loss}" + ("" if learnt else "\n(MSE model at the mean: did not learn)")


def plot(rows, args, out, mean_mae, size):
    import matplotlib  # optional: only for the figure

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comps = comparisons(args)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 0.55 * len(comps) + 1.6),
                             sharey=True)
    ypos = np.arange(len(comps))[::-1]
    for ax, (key, name, better) in zip(axes, METRICS):
        for y, (b, v) in zip(ypos, comps):
            d, mean, half = paired(rows, b, v, key, args.seeds)
            ax.errorbar(mean, y, xerr=half, fmt="o", color="C0" if v == "rank" else "C1", capsize=3)
            ax.plot(d, np.full(len(d), y) + 0.18, "x", color="grey", ms=4)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(f"{name}: ranking - MSE\n({better})", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(ypos, [label(b, v, learned(rows, b, args.seeds, mean_mae)) for b, v in comps], fontsize=8)
    fig.suptitle(f"Ranking minus MSE, paired per seed (seeds {', '.join(map(str, args.seeds))}): mean and 95% t "
                 f"interval, x: single seeds. Magnitude, {size[1]} x {size[2]}, {args.epochs} epochs, "
                 f"test split of {Path(args.data).name if args.data else 'the medium synthetic file'}", fontsize=9)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def report(args, path, work_dir, command, load_start):
    rows = {}
    for backbone, variant, seed in runs(args):
        rows[backbone, variant, seed] = json.loads((work_dir / f"{run_key(backbone, variant, seed)}.json").read_text())
    from skquake.datasets import load_quakeset

    y_train = load_quakeset(path, split="train", target="magnitude", pool=8)[1]
    X_test, y_test, _ = load_quakeset(path, split="test", target="magnitude", pool=args.pool)
    load_end = os.getloadavg()
    size = X_test.shape[1:]
    mean_mae = float(np.mean(np.abs(y_test - y_train.mean())))
    lines = [
        f"Command: `{command.strip()}`",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (report written) on {os.cpu_count()} CPU cores, "
        f"{args.processes} training process(es) of torch threads {args.threads}; load average when this process "
        f"started {load_start[0]:.1f} / {load_start[1]:.1f} / {load_start[2]:.1f}, at the end {load_end[0]:.1f} / "
        f"{load_end[1]:.1f} / {load_end[2]:.1f} (a machine shared with other jobs: fit times are indicative only).",
        "",
        f"Data: `{path.name}`, train {len(y_train)} samples, test {len(y_test)} samples, images "
        f"{size[0]} x {size[1]} x {size[2]} (pool {args.pool}); magnitude regression, bitemporal. "
        f"{args.epochs} epochs, lr {args.lr:g}, batch {args.batch_size}, other arguments at the `QuakeRegressor` "
        f"defaults (from scratch, standardised target, head init auto). Seeds {', '.join(map(str, args.seeds))}. "
        f"Predicting the train mean gives a test MAE of {mean_mae:.3f}.",
        "",
        "Paired differences, ranking variant minus MSE with the same backbone and seed (same initial weights, "
        "batch order and flips): mean over seeds [95% interval, mean +- t(0.975, n-1) sd / sqrt(n), "
        f"n = {len(args.seeds)}], then the per-seed differences. An interval that contains 0 shows no effect "
        "at this number of seeds. Negative MAE and positive Spearman / accuracy differences favour ranking.",
        "",
        "| backbone | ranking variant | MAE diff | Spearman diff | accuracy diff |",
        "| --- | --- | --- | --- | --- |",
    ]
    for b, v in comparisons(args):
        cells = []
        for key, _, _ in METRICS:
            d, mean, half = paired(rows, b, v, key, args.seeds)
            cells.append(f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}] ({', '.join(f'{x:+.3f}' for x in d)})")
        name = "paper (half, hinge, ties paper, 1:1)" if v == "rank" else v
        if not learned(rows, b, args.seeds, mean_mae):
            name += " (the MSE model did not beat the train mean: says nothing about ranking)"
        lines.append(f"| {b} | {name} | {' | '.join(cells)} |")
    lines += ["", "Mean ± standard deviation (ddof=1) over seeds:", "",
              "| backbone | loss | MAE | Spearman | detection accuracy (pred >= 1) | train loss, first -> last epoch | fit (s) |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    seen = []
    for b, v, _ in runs(args):
        if (b, v) in seen:
            continue
        seen.append((b, v))
        rs = [rows[b, v, s] for s in args.seeds]

        def ms(key, fmt="{:.3f}", rs=rs):
            x = np.array([r[key] for r in rs])
            return f"{fmt.format(x.mean())} ± {fmt.format(x.std(ddof=1) if len(x) > 1 else 0.0)}"

        lines.append(f"| {b} | {v} | {ms('mae')} | {ms('spearman')} | {ms('acc')} | "
                     f"{ms('loss_first', '{:.2f}')} -> {ms('loss_last', '{:.2f}')} | {ms('fit_s', '{:.0f}')} |")
    lines += ["", f"Plot: `{Path(args.plot).name}` (the same paired differences).", "",
              "Per run:", "", "| backbone | loss | seed | MAE | Spearman | accuracy |", "| --- | --- | --- | --- | --- | --- |"]
    for b, v, s in runs(args):
        r = rows[b, v, s]
        lines.append(f"| {b} | {v} | {s} | {r['mae']:.3f} | {r['spearman']:.3f} | {r['acc']:.3f} |")
    write_report("\n".join(lines) + "\n", args.out)
    plot(rows, args, args.plot, mean_mae, size)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="QuakeSet HDF5 file (default: the built-in medium synthetic file)")
    p.add_argument("--backbones", nargs="+", default=["resnet10t", "convnextv2_atto", "pvt_v2_b0"])
    p.add_argument("--options-backbone", default="resnet10t",
                   help="the backbone that also runs the ranking options ('none' for none)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pool", type=int, default=2, help="average pooling of the images (load_quakeset)")
    p.add_argument("--processes", type=int, default=1, help="copies of this script sharing the runs")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--work", default=str(HERE / "_work" / "ranking_study"),
                   help="folder of the per-run results (resumes from it)")
    p.add_argument("--out", default=str(HERE / "results" / "ranking_study.md"))
    p.add_argument("--plot", default=str(HERE / "results" / "ranking_study.png"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # a copy started by --processes
    args = p.parse_args(argv)
    if len(args.seeds) < 2:
        p.error("--seeds needs at least two seeds for a confidence interval")
    argv = sys.argv[1:] if argv is None else list(argv)
    command = command_line(__file__, argv)
    load_start = os.getloadavg()
    path = medium_quakeset_path(args.data)
    # The run's settings name its folder, so that another setting never reuses these results.
    work_dir = Path(args.work) / f"{path.stem}_pool{args.pool}_ep{args.epochs}_lr{args.lr:g}_b{args.batch_size}"
    copies = [subprocess.Popen([sys.executable, __file__, *argv, "--worker"])
              for _ in range(args.processes - 1)] if not args.worker else []
    work(args, path, work_dir)
    if args.worker:
        return 0
    failed = [c.wait() for c in copies]
    missing = [run_key(*r) for r in runs(args) if not (work_dir / f"{run_key(*r)}.json").exists()]
    if missing:
        print(f"{len(missing)} run(s) not done (another process still running, or a copy failed: "
              f"exit codes {failed}): {', '.join(missing)}; run the same command again to finish.")
        return 1
    report(args, path, work_dir, command, load_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
