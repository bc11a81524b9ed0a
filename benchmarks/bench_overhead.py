"""Training-time overhead of the skorch estimator against a plain PyTorch loop, and the cost of
the all-pairs ranking term.

    python benchmarks/bench_overhead.py [--backbone mobilenetv2_100] [--n 128] [--size 64]
                                        [--batch-size 16] [--epochs 2] [--repeats 3] [--threads 1]

Part 1: the same model (``SARNet``: decibels -> flips -> timm backbone), data, batch size,
optimizer (AdamW, weight decay 0.01), one-cycle schedule stepped per batch and epochs, trained
(a) by ``QuakeRegressor.fit`` and (b) by a hand-written loop over a ``DataLoader``. Repetitions
are interleaved (estimator, loop, estimator, loop, ...) so that load changes on a shared machine
hit both alike; the overhead is computed from the medians.

Part 2: one training step (forward, loss, backward, AdamW step) at batch 16 with MSE alone, MSE
+ half-batch ranking and MSE + all-pairs ranking; the ranking share is
``(step_with - step_mse) / step_with``; the loss computations alone are timed too.

Part 3: fit and predict time of the estimator with ``amp=True`` and ``channels_last=True``
against the defaults (CPU only here).

Prints the figures and writes ``benchmarks/results/overhead.md`` with the command on top.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

from skquake.models.deep import QuakeRegressor, RegressionRankingLoss, SARNet
from skquake.models.deep._callbacks import _OneCycleFactor

from _common import HERE, command_line, write_report


def _data(n, size, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.gamma(2.0, 0.05, size=(n, 4, size, size)).astype(np.float32)
    y = np.where(np.arange(n) % 2 == 0, 0.0, rng.uniform(4, 7, n)).astype(np.float32)
    return X, y


def fit_estimator(args, X, y):
    reg = QuakeRegressor(args.backbone, max_epochs=args.epochs, lr=1e-3, batch_size=args.batch_size,
                         random_state=0)
    t = time.perf_counter()
    reg.fit(X, y)
    return time.perf_counter() - t


def fit_options(args, X, y, **options):
    reg = QuakeRegressor(args.backbone, max_epochs=args.epochs, lr=1e-3, batch_size=args.batch_size,
                         random_state=0, **options)
    t = time.perf_counter()
    reg.fit(X, y)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    reg.predict(X)
    return fit_s, time.perf_counter() - t


def fit_plain(args, X, y):
    """What a PyTorch user would write for the same recipe."""
    t = time.perf_counter()
    torch.manual_seed(0)
    model = SARNet(args.backbone, in_chans=4, num_outputs=1, input_size=X.shape[2:], clamp=(0.0, 10.0))
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y).view(-1, 1))
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, _OneCycleFactor(len(loader) * args.epochs, 0.1, 25.0, 1e4))
    loss_fn = torch.nn.MSELoss()
    model.train()
    for _ in range(args.epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            loss.item()  # skorch records every batch loss; a user would log it too
    return time.perf_counter() - t


def step_times(args, criterion, repeats):
    torch.manual_seed(0)
    model = SARNet(args.backbone, in_chans=4, num_outputs=1, input_size=(args.size, args.size))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    X, y = _data(16, args.size)
    xb, yb = torch.from_numpy(X), torch.from_numpy(y).view(-1, 1)
    times = []
    for i in range(repeats + 2):
        t = time.perf_counter()
        opt.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        opt.step()
        if i >= 2:  # warm-up steps
            times.append(time.perf_counter() - t)
    return times


def loss_only_times(criterion, repeats=2000):
    g = torch.Generator().manual_seed(0)
    s = torch.randn(16, 1, generator=g, requires_grad=True)
    t_true = torch.rand(16, 1, generator=g) * 8
    t = time.perf_counter()
    for _ in range(repeats):
        criterion(s, t_true).backward()
    return (time.perf_counter() - t) / repeats


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backbone", default="mobilenetv2_100")
    p.add_argument("--n", type=int, default=128)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(HERE / "results" / "overhead.md"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = command_line(__file__, argv)
    load_start = os.getloadavg()
    X, y = _data(args.n, args.size)

    fit_estimator(args, X[:32], y[:32])  # warm-up: imports, allocator, first timm build
    fit_plain(args, X[:32], y[:32])
    est, plain = [], []
    for r in range(args.repeats):
        est.append(fit_estimator(args, X, y))
        plain.append(fit_plain(args, X, y))
        print(f"repeat {r + 1}: estimator {est[-1]:.2f} s, plain loop {plain[-1]:.2f} s", flush=True)
    med_est, med_plain = statistics.median(est), statistics.median(plain)
    overhead = (med_est - med_plain) / med_plain

    mse = torch.nn.MSELoss()
    half = RegressionRankingLoss(pairing="half")
    allp = RegressionRankingLoss(pairing="all")
    step = {}
    n_steps = 10
    # interleave the three criteria too
    per = {"mse": [], "half": [], "all": []}
    for _ in range(3):
        for name, crit in (("mse", mse), ("half", half), ("all", allp)):
            per[name] += step_times(args, crit, n_steps)
    for name in per:
        step[name] = statistics.median(per[name])
    loss_cost = {name: loss_only_times(c) for name, c in (("mse", mse), ("half", half), ("all", allp))}

    # Part 3: CPU cost of the amp / channels_last options (interleaved).
    option_sets = {"default": {}, "amp=True (bf16 autocast)": dict(amp=True),
                   "channels_last=True": dict(channels_last=True)}
    opt_times = {name: [] for name in option_sets}
    for _ in range(args.repeats):
        for name, options in option_sets.items():
            opt_times[name].append(fit_options(args, X, y, **options))
    load_end = os.getloadavg()

    def share(name):
        return (step[name] - step["mse"]) / step[name]

    lines = [
        f"Command: `{command.strip()}`",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} CPU cores, "
        f"torch threads {args.threads}; load average at start {load_start[0]:.1f} / {load_start[1]:.1f} / "
        f"{load_start[2]:.1f}, at end {load_end[0]:.1f} / {load_end[1]:.1f} / {load_end[2]:.1f} "
        "(1/5/15 min; the machine was shared with other jobs).",
        "",
        f"## Estimator vs plain PyTorch loop ({args.backbone}, {args.n} samples of 4 x {args.size} x {args.size}, "
        f"batch {args.batch_size}, {args.epochs} epochs, AdamW + one-cycle per batch, {args.repeats} interleaved repeats)",
        "",
        "| | median fit (s) | all repeats (s) |",
        "| --- | --- | --- |",
        f"| QuakeRegressor.fit | {med_est:.2f} | {', '.join(f'{t:.2f}' for t in est)} |",
        f"| plain loop | {med_plain:.2f} | {', '.join(f'{t:.2f}' for t in plain)} |",
        f"| overhead | {overhead * 100:+.1f}% | target <= 10% |",
        "",
        f"## Ranking term at batch 16 ({args.backbone}, 4 x {args.size} x {args.size}; median of {3 * n_steps} steps each)",
        "",
        "| criterion | train step (ms) | share of the step | loss forward+backward alone (ms) |",
        "| --- | --- | --- | --- |",
        f"| MSE | {step['mse'] * 1e3:.1f} | - | {loss_cost['mse'] * 1e3:.3f} |",
        f"| MSE + half-batch ranking | {step['half'] * 1e3:.1f} | {share('half') * 100:+.1f}% | {loss_cost['half'] * 1e3:.3f} |",
        f"| MSE + all-pairs ranking (120 pairs) | {step['all'] * 1e3:.1f} | {share('all') * 100:+.1f}% | {loss_cost['all'] * 1e3:.3f} |",
        "",
        "The step shares are differences of two noisy medians: the loss-alone column is the direct cost.",
        f"All-pairs loss alone / MSE step: {loss_cost['all'] / step['mse'] * 100:.2f}% of a training step.",
        "",
        f"## amp and channels_last on this CPU (same fit as above, {args.repeats} interleaved repeats, medians)",
        "",
        "| options | fit (s) | predict all samples (s) |",
        "| --- | --- | --- |",
    ]
    for name, times in opt_times.items():
        lines.append(f"| {name} | {statistics.median(t[0] for t in times):.2f} | "
                     f"{statistics.median(t[1] for t in times):.2f} |")
    text = "\n".join(lines) + "\n"
    write_report(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
