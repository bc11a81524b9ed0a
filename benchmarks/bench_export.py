"""Cost of a model in the QuakeSet paper's terms, as an estimator, an ONNX model and an int8 ONNX
model, side by side: parameters, MFLOPs, file size, single-sample CPU latency, test quality.

    python benchmarks/bench_export.py [--data FILE] [--shallow svr-rbf rfc-change rfr-change]
                                      [--deep resnet10t-mse resnet10t-det] [--deep-epochs 3]
                                      [--pool 2] [--large mobilenetv2-det] [--large-size 512]
                                      [--large-epochs 1] [--set NAME=VALUE ...]
                                      [--repeats 30] [--warmup 3] [--threads 1]

Without ``--data`` it uses the quick profile's built-in synthetic file
(``skquake.benchmark.default_data_file``), pooled ``--pool`` times (2: 32 x 32, as the quick
profile). Each model is trained with :func:`skquake.inference.fit_model` on the train split
(deep models ``--deep-epochs`` epochs, seed 0), saved as ``.skq``, loaded back, and exported
with :func:`skquake.export.to_onnx` (deep nets also with ``quantize="int8"``). The training is
brief on purpose: the benchmark measures what a model costs, not how good it can get; the
quality columns are there to measure how much the export and the int8 quantization change the
predictions of the same model.

``--large`` models (the QuakeSet paper's mobilenetv2_100) run at the paper's input size
``--large-size`` on a small synthetic file of that size written for the run (a few events,
``--large-epochs`` epochs): their cost is the paper's, their quality is not meaningful.
``--set NAME=VALUE`` is passed to every deep model (``--set backbone=test_resnet``).

Per model: parameters (deep: torch parameters; shallow: the fitted values a prediction reads,
as ``skquake benchmark`` counts them), MFLOPs of one forward pass (deep), the size of the
``.skq``, ``.onnx`` and int8 ``.onnx`` files, the median and 90th percentile of the wall time
of one single-sample prediction (``estimator.predict``, an onnxruntime session and the int8
session, all with ``--threads`` threads; the three are timed round-robin after ``--warmup``
untimed rounds, so that load on a shared machine hits them alike), the test quality (MAE for
magnitude, accuracy for detection) of each and the largest difference of the ONNX models'
predictions (``skquake.export.check_onnx_parity``). The 1-minute load average is recorded
before and after.

Prints the table and writes ``benchmarks/results/export.md`` and ``export.json`` (the same
figures, per-run times included) with the command on top.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from skquake.benchmark._deep import find_torch_module, flops_per_sample
from skquake.benchmark._host import machine, versions
from skquake.benchmark._row import count_fitted_values
from skquake.datasets import load_quakeset
from skquake.datasets.synthetic import make_quakeset
from skquake.export import check_onnx_parity, to_onnx
from skquake.inference import fit_model
from skquake.metrics import get_metric
from skquake.models import get_model_spec, load_model
from skquake.utils import name_value

from _common import HERE, command_line, quakeset_path, write_report

#: Registry task -> (target read from the file, quality metric).
_QUALITY = {"magnitude": ("magnitude", "mae"), "detection": ("label", "accuracy")}
_VARIANTS = ("estimator", "onnx", "int8")
#: Above this 1-minute load average per core the report warns that the timings are inflated.
_BUSY_LOAD_PER_CORE = 1.0
#: The QuakeSet paper's input size (its patches are 512 x 512).
_PAPER_SIZE = 512


def _sessions(paths, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return {name: ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            for name, path in paths.items()}


def _onnx_predict(session, estimator, X):
    """What ``predict`` returns, from the ONNX outputs (labels of classifiers, magnitudes)."""
    names = [o.name for o in session.get_outputs()]
    out = dict(zip(names, session.run(None, {session.get_inputs()[0].name: X.astype(np.float32)})))
    if "variable" in out:
        return out["variable"].reshape(-1)
    if "label" in out:
        return out["label"].reshape(-1)
    return np.asarray(estimator.classes_)[out["probabilities"].argmax(axis=1)]


def _latencies(predictors, one, repeats, warmup):
    """Per variant, the seconds of ``repeats`` single-sample predictions, timed round-robin."""
    times = {name: [] for name in predictors}
    for round_ in range(warmup + repeats):
        for name, predict in predictors.items():
            t = time.perf_counter()
            predict(one)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - t)
    return times


def _measure(name, data, pool, params, args, workdir):
    """Train, save, export and time one model (its files in ``workdir``); returns its row."""
    spec = get_model_spec(name)
    target, metric = _QUALITY[spec.task]
    deep = spec.family == "deep"
    workdir.mkdir()
    skq = workdir / f"{name}.skq"
    t = time.perf_counter()
    fit_model(name, data, skq, task=f"{spec.task}-bitemporal", params=params, pool=pool, seed=0)
    fit_s = time.perf_counter() - t
    estimator = load_model(skq)
    X_test, y_test, _ = load_quakeset(data, split="test", target=target, pool=pool)
    one = X_test[:1]
    paths = {"onnx": workdir / f"{name}.onnx"}
    to_onnx(estimator, one, paths["onnx"])
    if deep:
        paths["int8"] = workdir / f"{name}.int8.onnx"
        to_onnx(estimator, one, paths["int8"], quantize="int8")
    sessions = _sessions(paths, args.threads)

    score = get_metric(metric).compute
    y_pred = estimator.predict(X_test)
    row = {"model": name, "task": spec.task, "family": spec.family, "input_shape": list(X_test.shape[1:]),
           "n_test": int(len(y_test)), "params": dict(params), "fit_s": fit_s, "metric": metric,
           "quality": {"estimator": float(score(y_test, y_pred))},
           "max_abs_diff": {}, "size_mb": {"skq": skq.stat().st_size / 2**20}}
    if spec.task == "detection":
        row["same_label"] = {}
    for variant, session in sessions.items():
        onnx_pred = _onnx_predict(session, estimator, X_test)
        row["quality"][variant] = float(score(y_test, onnx_pred))
        if "same_label" in row:  # one flipped label reads as a max abs diff of 1: say how many flipped
            row["same_label"][variant] = float(np.mean(onnx_pred == y_pred))
        row["max_abs_diff"][variant] = check_onnx_parity(estimator, paths[variant], X_test)
        row["size_mb"][variant] = paths[variant].stat().st_size / 2**20
    module = find_torch_module(estimator)
    if module is not None:
        row["n_params"] = int(sum(p.numel() for p in module.parameters()))
        row["mflops"] = flops_per_sample(module, one) / 1e6
    else:
        row["n_params"] = count_fitted_values(estimator)
        row["mflops"] = None

    predictors = {"estimator": estimator.predict}
    for variant, session in sessions.items():
        predictors[variant] = lambda x, s=session: s.run(None, {s.get_inputs()[0].name: x})
    times = _latencies(predictors, one.astype(np.float32), args.repeats, args.warmup)
    row["latency_ms"] = {v: {"median": 1e3 * statistics.median(ts),
                             "p90": 1e3 * float(np.percentile(ts, 90)), "runs": [1e3 * s for s in ts]}
                         for v, ts in times.items()}
    return row


def _fmt(value, fmt):
    return "-" if value is None else fmt.format(value)


def _table(rows):
    lines = [
        "| model | input | params | MFLOPs | file MB: .skq / .onnx / int8 | latency ms, median (p90): "
        "estimator / ONNX / int8 | test quality: estimator / ONNX / int8 | max abs diff: ONNX / int8 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lat = r["latency_ms"]
        latency = " / ".join(f"{lat[v]['median']:.2f} ({lat[v]['p90']:.2f})" if v in lat else "-" for v in _VARIANTS)
        sizes = " / ".join(_fmt(r["size_mb"].get(v), "{:.3f}") for v in ("skq", "onnx", "int8"))
        quality = " / ".join(_fmt(r["quality"].get(v), "{:.4f}") for v in _VARIANTS)
        same = r.get("same_label", {})
        diffs = " / ".join(_fmt(r["max_abs_diff"].get(v), "{:.1e}")
                           + (f" ({same[v]:.1%} same label)" if v in same else "") for v in ("onnx", "int8"))
        lines.append(f"| {r['model']} | {' x '.join(map(str, r['input_shape']))} | {_fmt(r['n_params'], '{:,}')} | "
                     f"{_fmt(r['mflops'], '{:.1f}')} | {sizes} | {latency} | {r['metric']} {quality} | {diffs} |")
    return lines


def _load_note(load_start, load_end, cores):
    busy = max(load_start[0], load_end[0]) > _BUSY_LOAD_PER_CORE * cores
    note = (f"1-minute load average before {load_start[0]:.2f}, after {load_end[0]:.2f} on {cores} cores")
    if busy:
        return note + (" -- **the machine was busy with other jobs: absolute latencies are inflated; the "
                       "round-robin timing keeps the three variants' comparison fair**.")
    return note + " (the machine was otherwise quiet)."


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="QuakeSet HDF5 file (default: the default synthetic file)")
    p.add_argument("--shallow", nargs="*", default=["svr-rbf", "rfc-change", "rfr-change"])
    p.add_argument("--deep", nargs="*", default=["resnet10t-mse", "resnet10t-det"])
    p.add_argument("--deep-epochs", type=int, default=3)
    p.add_argument("--pool", type=int, default=2, help="average pooling of --data's images (2: the quick profile)")
    p.add_argument("--large", nargs="*", default=["mobilenetv2-det"],
                   help="deep models run at --large-size on a synthetic file of that size")
    p.add_argument("--large-size", type=int, default=_PAPER_SIZE)
    p.add_argument("--large-events", type=int, default=10)
    p.add_argument("--large-epochs", type=int, default=1)
    p.add_argument("--set", dest="params", action="append", default=[], type=name_value, metavar="NAME=VALUE",
                   help="parameter of every deep model, e.g. --set backbone=test_resnet (repeatable)")
    p.add_argument("--repeats", type=int, default=30, help="timed single-sample predictions per variant")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds before them")
    p.add_argument("--threads", type=int, default=1, help="torch and onnxruntime intra-op threads")
    p.add_argument("--out", default=str(HERE / "results" / "export.md"))
    args = p.parse_args(argv)
    for option in ("deep_epochs", "pool", "large_size", "large_events", "large_epochs", "repeats", "threads"):
        if getattr(args, option) < 1:
            p.error(f"--{option.replace('_', '-')} must be >= 1, got {getattr(args, option)}")
    if args.warmup < 0:
        p.error(f"--warmup must be >= 0, got {args.warmup}")
    if args.data and not Path(args.data).is_file():
        p.error(f"--data: no QuakeSet file at {args.data}")
    for option, names in (("shallow", args.shallow), ("deep", args.deep), ("large", args.large)):
        for name in names:
            try:
                family = get_model_spec(name).family
            except KeyError as exc:  # it names the close matches
                p.error(exc.args[0])
            if (family == "deep") != (option != "shallow"):
                p.error(f"--{option} {name}: a {family} model, list it under "
                        f"--{'deep or --large' if family == 'deep' else 'shallow'}")
    torch.set_num_threads(args.threads)
    command = command_line(__file__, argv)
    cores = machine()["cores"]
    load_start = os.getloadavg()
    started = time.perf_counter()
    data = quakeset_path(args.data)
    deep_params = dict(args.params)

    rows = []
    with tempfile.TemporaryDirectory(prefix="skquake-bench-export-") as tmp:
        workdir = Path(tmp)
        plan = [(m, data, args.pool, {}) for m in args.shallow]
        plan += [(m, data, args.pool, dict(max_epochs=args.deep_epochs, batch_size=16, **deep_params))
                 for m in args.deep]
        if args.large:
            large = make_quakeset(workdir / "large.h5", n_events=args.large_events, patch_size=args.large_size,
                                  random_state=0)
            plan += [(m, large, 1, dict(max_epochs=args.large_epochs, batch_size=4, **deep_params))
                     for m in args.large]
        for i, (name, path, pool, params) in enumerate(plan):
            row = _measure(name, path, pool, params, args, workdir / str(i))  # a model may be listed twice
            rows.append(row)
            lat = row["latency_ms"]
            print(f"{name}: fit {row['fit_s']:.1f} s, latency ms " +
                  ", ".join(f"{v} {lat[v]['median']:.2f}" for v in lat), flush=True)
    load_end = os.getloadavg()
    wall_s = time.perf_counter() - started

    host = machine()
    libs = {**versions(), **{d: metadata.version(d) for d in ("onnx", "onnxruntime", "skl2onnx")}}
    meta = {"command": command, "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": host, "versions": libs, "threads": args.threads, "repeats": args.repeats,
            "warmup": args.warmup, "load_avg_1min": {"before": load_start[0], "after": load_end[0]},
            "wall_s": wall_s, "data": str(data), "pool": args.pool}
    paper_size = " (the QuakeSet paper's)" if args.large_size == _PAPER_SIZE else ""
    large_note = (f"`--large` models ({', '.join(args.large)}): {args.large_size} x {args.large_size} input"
                  f"{paper_size}, trained {args.large_epochs} epoch(s) on a synthetic file of "
                  f"{args.large_events} events written for the run; their quality is not meaningful. "
                  if args.large else "")
    lines = [
        f"Command: `{command.strip()}`",
        "",
        f"Measured {meta['measured_at']} on {host['cpu']} ({cores} cores), torch and onnxruntime "
        f"{args.threads} thread(s); {_load_note(load_start, load_end, cores)} Whole run {wall_s:.0f} s.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in libs.items() if v) + ".",
        "",
        f"Data: `{data.name}`, pool {args.pool}; models trained on the train split with "
        f"`skquake.inference.fit_model` (seed 0; deep: {args.deep_epochs} epochs"
        f"{', ' + ', '.join(f'{k}={v}' for k, v in deep_params.items()) if deep_params else ''}), saved, "
        "loaded and exported. The training is brief on purpose: this measures what a model costs, not "
        "how good it can get; the quality columns measure what the export and the int8 quantization "
        f"change for the same model. {large_note}",
        "",
        f"Latency: one sample, {args.repeats} timed predictions per variant after {args.warmup} untimed "
        "rounds, the three variants interleaved round-robin; `estimator` is `predict` of the loaded "
        "model (skorch's data loader included for deep nets), `ONNX` / `int8` one `InferenceSession.run`. "
        "int8 is dynamic quantization (`to_onnx(..., quantize=\"int8\")`), for deep nets only. "
        "Parameters: torch parameters (deep); fitted values a prediction reads (shallow: PCA / SVM "
        "arrays, tree nodes). MFLOPs: one forward pass, a multiply-add counting 2. Max abs diff: "
        "`check_onnx_parity` on the test split (magnitudes; probabilities and labels, where "
        "one flipped label counts 1, so the share of test labels equal to the estimator's is given).",
        "",
        *_table(rows),
    ]
    write_report("\n".join(lines) + "\n", args.out)
    json_path = Path(args.out).with_suffix(".json")
    json_path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
