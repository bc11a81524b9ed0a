"""How hard is a synthetic QuakeSet file? A hand-made-feature baseline.

Six change features per sample (decibels, NaN-aware, after 4 x 4 average pooling to tame the
speckle): per channel the mean absolute dB difference between the two dates, its 95th
percentile and the mean signed difference. Then a standardised logistic regression (detection),
a ridge regression (magnitude, 0 for negatives, as the QuakeSet paper's regressors) and a
two-stage magnitude model (the logistic decision times a ridge fitted on positives only),
fitted on the file's train split and scored on its validation and test splits.

    python benchmarks/bench_baseline.py [--data FILE] [--seeds 0 1 2]

Without ``--data`` it generates the default synthetic file (``make_quakeset`` defaults) for
each seed under ``benchmarks/_work/``. Writes ``benchmarks/results/baseline.md``.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from _common import HERE, command_line, write_report


def change_features(X):
    """(n, 4, H, W) linear bitemporal images with NaN -> (n, 6) change features."""
    from skquake.preprocessing import average_pool, to_decibels

    with np.errstate(invalid="ignore"):
        db = to_decibels(average_pool(X, 4))
    diff = db[:, 2:] - db[:, :2]
    flat = diff.reshape(len(diff), 2, -1)
    absdiff = np.abs(flat)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: fully no-data samples
        feats = np.concatenate(
            [np.nanmean(absdiff, -1), np.nanpercentile(absdiff, 95, axis=-1), np.nanmean(flat, -1)],
            axis=1,
        )
    return np.nan_to_num(feats)


def score(path):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, mean_absolute_error
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skquake.datasets import QuakeSet, load_quakeset

    data = {}
    for split in ("train", "val", "test"):
        X, _, _ = load_quakeset(path, split=split, fill_value=None)
        ds = QuakeSet(path, split=split)
        data[split] = (change_features(X), ds.labels, ds.magnitudes)
    F, lab, mag = data["train"]
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(F, lab)
    reg = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(F, mag)
    # two-stage: magnitude from a ridge fitted on positives only, 0 where the classifier says no
    reg_pos = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(F[lab == 1], mag[lab == 1])
    out = {}
    for split in ("val", "test"):
        F, lab, mag = data[split]
        pred_m = np.clip(reg.predict(F), 0, 10)
        pos = lab == 1
        out[split] = dict(
            n=len(lab),
            acc=accuracy_score(lab, clf.predict(F)),
            majority=max(lab.mean(), 1 - lab.mean()),
            mae=mean_absolute_error(mag, pred_m),
            mae_mean=mean_absolute_error(mag, np.full_like(mag, data["train"][2].mean())),
            mag_acc=accuracy_score(lab, pred_m >= 1),
            mae_pos=mean_absolute_error(mag[pos], pred_m[pos]),
            mae_2=mean_absolute_error(mag, clf.predict(F) * reg_pos.predict(F)),
            mae_2_pos=mean_absolute_error(mag[pos], reg_pos.predict(F[pos])),
        )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="existing QuakeSet file (default: generate per seed)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--signal-strength", type=float, default=1.0)
    parser.add_argument("--out", default=str(HERE / "results" / "baseline.md"))
    args = parser.parse_args(argv)
    from skquake.datasets import make_quakeset

    work = HERE / "_work"
    work.mkdir(exist_ok=True)
    runs = []
    if args.data:
        runs.append((args.data, score(args.data)))
    else:
        for seed in args.seeds:
            path = make_quakeset(work / f"baseline_{seed}.h5", random_state=seed, overwrite=True,
                                 signal_strength=args.signal_strength)
            runs.append((f"make_quakeset(random_state={seed}, signal_strength="
                         f"{args.signal_strength})", score(path)))
            path.unlink()
    command = command_line(__file__, argv)
    lines = [f"Command: `{command.strip()}`", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "| data | split | n | detection acc (logistic) | majority class | magnitude MAE (ridge) "
             "| MAE of predicting the train mean | acc of ridge >= 1 | ridge MAE on positives "
             "| two-stage MAE | two-stage MAE on positives |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, res in runs:
        for split, r in res.items():
            lines.append(f"| {name} | {split} | {r['n']} | {r['acc']:.3f} | {r['majority']:.3f} | "
                         f"{r['mae']:.3f} | {r['mae_mean']:.3f} | {r['mag_acc']:.3f} | "
                         f"{r['mae_pos']:.3f} | {r['mae_2']:.3f} | {r['mae_2_pos']:.3f} |")
    text = "\n".join(lines) + "\n"
    write_report(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
