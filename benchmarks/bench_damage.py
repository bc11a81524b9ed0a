"""Building-damage benchmark: fusion vs image-only vs metadata-only, regions, importance.

On the default synthetic damage file (``make_damage_dataset`` defaults: 2000 buildings in 4
regions, 32 x 32 RGB chips, 22 metadata columns), this script

1. fits ``damage-fusion`` (QuakeMetaFormer-like), ``damage-image`` (QuakeImageFormer-like) and
   ``damage-meta-rf`` on the file's train split for several seeds and scores them on the test
   split (accuracy, macro precision / recall / F1, macro one-vs-rest AUC-ROC, class distance);
   the fusion model is also scored with all metadata masked (NaN) at test time;
2. trains each model on one region (the largest) and tests it in that region (held-out 30 %)
   and on every other region, with and without metadata;
3. computes the per-class permutation importance (drop of one-vs-rest AUC) of every metadata
   column and of the image for the fusion model, as a table and a plot.

It prints the tables and writes ``benchmarks/results/damage.md`` (command at the top),
``damage.json`` (raw numbers) and ``damage_importance.png``.

Run: ``python benchmarks/bench_damage.py`` (``--help`` for the options).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shlex
import sys
import tempfile
import time

import numpy as np

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def _fmt(values, digits=3):
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.nanmean(values):.{digits}f} ± {np.nanstd(values):.{digits}f}"


def _row_metrics(report):
    dist = report["class_distance"]
    return {
        "accuracy": report["accuracy"], "precision": report["precision_macro"],
        "recall": report["recall_macro"], "f1": report["f1_macro"], "auc": report["roc_auc_macro"],
        "exact": dist[0], "off_by_1": dist[1], "off_by_2+": float(sum(dist[2:])),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="damage file (default: generate the default synthetic file)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--backbone", default="test_convnext",
                        help="timm backbone of the two deep models (default: a tiny ConvNeXt, CPU-friendly)")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--n-repeats", type=int, default=5, help="permutation importance repeats")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", default=str(RESULTS / "damage.md"))
    args = parser.parse_args(argv)
    command = " ".join(["python benchmarks/bench_damage.py"]
                       + [shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])])

    import torch

    from skquake.datasets import CLASS_NAMES, load_damage, make_damage_dataset, read_damage_layout
    from skquake.inspection import importance_table, per_class_permutation_importance, plot_permutation_importance
    from skquake.metrics import damage_scores
    from skquake.model_selection import region_generalization
    from skquake.models import create_model

    torch.set_num_threads(args.threads)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    if args.data is None:
        tmp = tempfile.TemporaryDirectory()
        data = make_damage_dataset(pathlib.Path(tmp.name) / "damage.h5", random_state=0)
        data_desc = "default synthetic file: `make_damage_dataset(path, random_state=0)` (2000 buildings, 4 regions, 32 x 32 RGB, 22 metadata columns)"
    else:
        data = pathlib.Path(args.data)
        data_desc = f"`{data}`"
    layout = read_damage_layout(data)
    X, y, _ = load_damage(data, "train")
    Xt, yt, _ = load_damage(data, "test")
    labels = np.arange(len(CLASS_NAMES))
    n_meta = len(layout["metadata_columns"])
    Xt_masked = Xt.copy()
    Xt_masked[:, -n_meta:] = np.nan
    deep = dict(backbone=args.backbone, max_epochs=args.epochs, lr=args.lr, **layout)
    load_before = os.getloadavg()
    t_start = time.time()

    def build(name, seed):
        if name == "damage-meta-rf":
            return create_model(name, input_shape=layout["input_shape"], random_state=seed)
        return create_model(name, random_state=seed, **deep)

    # ------------------------------------------------------------------ 1. models x seeds
    rows = {}
    fitted_fusion = None
    for seed in args.seeds:
        for name in ("damage-fusion", "damage-image", "damage-meta-rf"):
            t0 = time.time()
            model = build(name, seed).fit(X, y)
            fit_s = time.time() - t0
            evals = [(name, Xt)]
            if name == "damage-fusion":
                evals.append(("damage-fusion, metadata masked at test", Xt_masked))
                if fitted_fusion is None:
                    fitted_fusion = model
            for label, data_eval in evals:
                r = _row_metrics(damage_scores(model, data_eval, yt, labels))
                r["fit_s"] = fit_s
                rows.setdefault(label, []).append(r)
            print(f"seed {seed} {name}: AUC {rows[name][-1]['auc']:.3f} F1 {rows[name][-1]['f1']:.3f} "
                  f"({fit_s:.0f} s)", flush=True)
    keys = ["accuracy", "precision", "recall", "f1", "auc", "exact", "off_by_1", "off_by_2+", "fit_s"]
    main_table = ["| model | " + " | ".join(keys) + " |", "|" + " --- |" * (len(keys) + 1)]
    for label, rs in rows.items():
        cells = [_fmt([r[k] for r in rs], 1 if k == "fit_s" else 3) for k in keys]
        main_table.append(f"| {label} | " + " | ".join(cells) + " |")

    # ------------------------------------------------------------------ 2. regions
    Xa, ya, ga = load_damage(data, "all")
    train_region = int(np.bincount(ga).argmax())
    region_rows = []
    region_table = ["| model | test region | in region | n | accuracy | F1 | AUC |", "|" + " --- |" * 7]
    for name in ("damage-fusion", "damage-image", "damage-meta-rf"):
        res = region_generalization(build(name, args.seeds[0]), Xa, ya, ga, train_regions=[train_region],
                                    labels=labels, random_state=0)
        for r in res:
            r["model"] = name
            region_rows.append(r)
            region_table.append(f"| {name} | {r['test_region']} | {'yes' if r['in_region'] else 'no'} | {r['n']} | "
                                f"{r['accuracy']:.3f} | {r['f1_macro']:.3f} | {r['roc_auc_macro']:.3f} |")
        inside = [r for r in res if r["in_region"]][0]
        others = [r for r in res if not r["in_region"]]
        print(f"region {train_region} -> others, {name}: AUC {inside['roc_auc_macro']:.3f} in region, "
              f"{np.nanmean([r['roc_auc_macro'] for r in others]):.3f} elsewhere", flush=True)
    drop_table = ["| model | AUC in region | AUC other regions (mean) | AUC drop | F1 in region | F1 other regions (mean) | F1 drop |",
                  "|" + " --- |" * 7]
    for name in ("damage-fusion", "damage-image", "damage-meta-rf"):
        rs = [r for r in region_rows if r["model"] == name]
        inside = [r for r in rs if r["in_region"]][0]
        auc_o = np.nanmean([r["roc_auc_macro"] for r in rs if not r["in_region"]])
        f1_o = np.nanmean([r["f1_macro"] for r in rs if not r["in_region"]])
        drop_table.append(f"| {name} | {inside['roc_auc_macro']:.3f} | {auc_o:.3f} | {inside['roc_auc_macro'] - auc_o:.3f} | "
                          f"{inside['f1_macro']:.3f} | {f1_o:.3f} | {inside['f1_macro'] - f1_o:.3f} |")

    # ------------------------------------------------------------------ 3. importance
    imp = per_class_permutation_importance(fitted_fusion, Xt, yt, labels=labels, n_repeats=args.n_repeats,
                                           random_state=0, **layout)
    imp_md = importance_table(imp, list(CLASS_NAMES))
    png = out.with_name(out.stem + "_importance.png")
    fig = plot_permutation_importance(imp, list(CLASS_NAMES))
    fig.savefig(png, dpi=100)
    elapsed = time.time() - t_start
    load_after = os.getloadavg()

    text = "\n".join([
        "# Building-damage benchmark",
        "",
        "```",
        command,
        "```",
        "",
        f"Data: {data_desc}. Train on the `train` split ({len(y)} buildings), test on `test` ({len(yt)}).",
        f"Deep models: backbone `{args.backbone}`, {args.epochs} epochs, lr {args.lr}, batch 32, focal loss gamma 4 "
        f"with balanced class weights; seeds {args.seeds}. torch threads: {args.threads}. Wall time {elapsed / 60:.1f} min "
        f"on {platform.machine()} CPU, load average {load_before[0]:.1f} at start and {load_after[0]:.1f} at the end "
        "(a shared machine: fit times are indicative only).",
        "",
        "## Fusion vs image-only vs metadata-only (test split, mean ± std over seeds)",
        "",
        "`exact`, `off_by_1`, `off_by_2+`: share of buildings whose predicted class is off by 0, 1, >= 2 classes.",
        "",
        *main_table,
        "",
        f"## Generalization across regions (train on region {train_region}, seed {args.seeds[0]})",
        "",
        f"Each model is trained on 70 % of region {train_region} and tested on the other 30 % (in region) and on all "
        "buildings of every other region.",
        "",
        *drop_table,
        "",
        *region_table,
        "",
        f"## Per-class permutation importance (damage-fusion, seed {args.seeds[0]}, test split)",
        "",
        f"Drop of the one-vs-rest AUC-ROC of each class when a column (or the image) is shuffled between buildings, "
        f"mean ± std over {args.n_repeats} repeats. Plot: `{png.name}`.",
        "",
        imp_md,
        "",
    ])
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps({
        "command": command, "models": rows, "regions": region_rows,
        "importance": {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in imp.items()},
    }, indent=1, default=float))
    print(text)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
