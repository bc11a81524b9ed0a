"""Why the transformers of the ranking study (convnextv2_atto, pvt_v2_b0) did not learn: learning rate and length.

    python benchmarks/bench_transformer_lr.py [--data FILE] [--runs BACKBONE:LR:EPOCHS ...] [--pool 2]
                                              [--processes 2] [--out FILE]

The ranking study (``bench_ranking.py --epochs 5``, lr 1e-3) found both transformers at the
train mean (test MAE 2.75, the mean's 2.751), so it could not test the ranking paper's claim
that ranking helps transformers most. Each run here trains one ``QuakeRegressor`` from scratch
(magnitude, bitemporal, seed 0, batch 16, the estimator's defaults otherwise: AdamW, one-cycle
schedule with 10 % warm-up, standardised target) on the medium file's train split at 32 x 32
(``--pool 2``) and reports the test MAE and Spearman, the spread of the test predictions (0: the
net outputs one constant, it collapsed) and the train loss per epoch (MSE in magnitude units
squared; the target's variance is ~7.9, what a constant prediction scores).

Without ``--data`` it reads the built-in medium synthetic file (the ``medium`` profile's,
``make_quakeset(n_events=1000, patch_size=64, patches_per_event=2, random_state=0)``).
Runs are split over ``--processes`` worker processes of one torch thread each.
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_RUNS = ("pvt_v2_b0:1e-3:5", "pvt_v2_b0:3e-4:20", "pvt_v2_b0:3e-4:60", "pvt_v2_b0:1e-4:40",
                "pvt_v2_b0:3e-5:40", "convnextv2_atto:1e-3:40", "convnextv2_atto:3e-4:20")


def _medium_file() -> Path:
    from skquake.benchmark import PROFILES, default_data_file

    return default_data_file("magnitude-bitemporal", options=PROFILES["medium"].synthetic_options.get("data"))


def _run(args):
    path, spec, pool = args
    import torch
    from scipy.stats import spearmanr

    from skquake.datasets import load_quakeset
    from skquake.models.deep import QuakeRegressor

    torch.set_num_threads(1)
    backbone, lr, epochs = spec.split(":")
    Xtr, ytr, _ = load_quakeset(path, split="train", target="magnitude", pool=pool)
    Xte, yte, _ = load_quakeset(path, split="test", target="magnitude", pool=pool)
    start = time.time()
    model = QuakeRegressor(backbone=backbone, lr=float(lr), max_epochs=int(epochs), batch_size=16, random_state=0,
                           verbose=0).fit(Xtr, ytr)
    pred = model.predict(Xte)
    return {"run": spec, "backbone": backbone, "lr": float(lr), "epochs": int(epochs),
            "mae": float(np.abs(pred - yte).mean()), "spearman": float(spearmanr(pred, yte)[0]),
            "pred_std": float(pred.std()), "mean_mae": float(np.abs(ytr.mean() - yte).mean()),
            "losses": [float(h["train_loss"]) for h in model.history], "seconds": time.time() - start}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="QuakeSet HDF5 file (default: the built-in medium synthetic file)")
    p.add_argument("--runs", nargs="+", default=list(DEFAULT_RUNS), metavar="BACKBONE:LR:EPOCHS")
    p.add_argument("--pool", type=int, default=2)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--out", default=str(HERE / "results" / "transformer_lr.md"))
    args = p.parse_args(argv)
    path = Path(args.data) if args.data else _medium_file()
    with ProcessPoolExecutor(args.processes) as pool:
        results = list(pool.map(_run, [(path, spec, args.pool) for spec in args.runs]))
    command = "python benchmarks/bench_transformer_lr.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [f"Command: `{command.strip()}`", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {args.processes} process(es) of one "
             f"torch thread; data `{path.name}`, pool {args.pool}, seed 0. Predicting the train mean gives a test MAE "
             f"of {results[0]['mean_mae']:.3f}.", "",
             "| backbone | lr | epochs | test MAE | Spearman | prediction std | train loss: first, at 25 / 50 / 75 %, "
             "last epoch | fit (s) |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        n = len(r["losses"])
        marks = [r["losses"][min(n - 1, int(q * n))] for q in (0.0, 0.25, 0.5, 0.75)] + [r["losses"][-1]]
        lines.append(f"| {r['backbone']} | {r['lr']:g} | {r['epochs']} | {r['mae']:.3f} | {r['spearman']:.3f} | "
                     f"{r['pred_std']:.3f} | {', '.join(f'{v:.2f}' for v in marks)} | {r['seconds']:.0f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
