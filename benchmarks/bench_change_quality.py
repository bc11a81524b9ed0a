"""Change-detection quality of every registered change model on a synthetic QuakeSet file.

Each model is fitted on the train split (pairs only: no masks) and predicts the masks of the
test split; the pixel metrics compare them with the generator's masks (earthquake change and any
change). Models with a ``random_state`` run once per seed (mean and std over the seeds); the
others are deterministic and run once. ``--pool 1 2`` writes one table per pooling factor (the
quick benchmark profile reads the file at ``pool=2``, 32 x 32). Deep models run on the CPU with
``--threads`` torch threads. Writes ``benchmarks/results/change_quality.md``.

    python benchmarks/bench_change_quality.py                       # the quick profile's file, 64 x 64
    python benchmarks/bench_change_quality.py --pool 1 2            # and pooled to 32 x 32
    python benchmarks/bench_change_quality.py --data FILE --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, command_line, write_report  # noqa: E402

_COLUMNS = ("change_iou_quake", "change_iou_any", "change_f1_quake", "change_kappa_quake",
            "change_false_alarm_quake", "change_missed_quake", "changed_fraction")


def _run(name, seed, train, test):
    from skquake.metrics import get_metric
    from skquake.models import create_model

    model = create_model(name)
    if seed is not None:
        model.set_params(random_state=seed)
    t0 = time.perf_counter()
    model.fit(train[0])
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    masks = model.predict(test[0])
    predict_s = time.perf_counter() - t0
    row = {m: get_metric(m).compute(test[1], y_pred=masks) for m in _COLUMNS}
    return {**row, "fit_s": fit_s, "predict_s": predict_s}


def _fmt(values):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.3f}" if len(values) == 1 else f"{values.mean():.3f} ± {values.std():.3f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="a QuakeSet file with masks (default: make_quakeset(random_state=0))")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", help="registered change models (default: all)")
    parser.add_argument("--pool", type=int, nargs="+", default=[1],
                        help="average-pooling factors of the images (one table each; default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the deep models (default 1)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "change_quality.md")
    args = parser.parse_args(argv)

    from skquake.datasets import load_change, make_quakeset
    from skquake.metrics import get_metric
    from skquake.models import get_model_spec, list_models

    models = args.models or list_models(task="change")
    if any(get_model_spec(name).family == "deep" for name in models):
        import torch  # only when a deep model runs

        torch.set_num_threads(args.threads)
    labels = [get_metric(c).label + (" ↑" if get_metric(c).greater_is_better else " ↓") for c in _COLUMNS]
    labels[-1] = get_metric("changed_fraction").label
    report = [
        "# Change detection: quality on the synthetic file",
        "",
        "Command:",
        "",
        f"    {command_line(__file__, argv)}",
        "",
        f"Run {datetime.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} CPUs "
        f"(shared with other jobs; deep models on the CPU, {args.threads} torch thread(s)). Data: "
        f"{'--data ' + str(args.data) if args.data else 'make_quakeset(random_state=0)'}; fit on the train pairs "
        "(no masks), scored on the test pairs, all pixels pooled. Seeded models: mean ± std over seeds "
        f"{', '.join(map(str, args.seeds))}; the others are deterministic.",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else make_quakeset(Path(tmp) / "quick.h5", random_state=0)
        splits = {pool: [load_change(data, split=s, pool=pool, masks="required")[:2] for s in ("train", "test")]
                  for pool in args.pool}
    for pool, (train, test) in splits.items():
        lines = []
        for name in models:
            seeded = "random_state" in get_model_spec(name).create().get_params()
            rows = [_run(name, seed, train, test) for seed in (args.seeds if seeded else [None])]
            cells = [_fmt([r[c] for r in rows]) for c in _COLUMNS]
            timing = f"{np.mean([r['fit_s'] for r in rows]):.1f} / {np.mean([r['predict_s'] for r in rows]):.1f}"
            lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + f" | {timing} |")
            print(f"pool={pool} " + lines[-1], flush=True)
        report += [
            "",
            f"## {test[0].shape[2]} x {test[0].shape[3]} (pool={pool}): {len(train[0])} train pairs, "
            f"{len(test[0])} test pairs",
            "",
            "| model | runs | " + " | ".join(labels) + " | fit / predict s |",
            "| --- | --- | " + " | ".join("---" for _ in labels) + " | --- |",
            *lines,
        ]
    write_report("\n".join(report + [""]), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
