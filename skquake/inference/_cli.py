"""``skquake fit`` and ``skquake predict``: :func:`fit_model` and :func:`predict_file` from the shell."""
from __future__ import annotations

import argparse
import json
from numbers import Integral, Real

import numpy as np

from ..datasets import SPLITS, load_quakeset
from ..export import check_onnx_parity, to_onnx
from ..models import load_model
from ..utils import CommandParser, Interval, StrictInterval, checked, input_file, name_value, new_file, output_folder
from ._fit import QUAKESET_TASKS, TRAIN_SPLITS, fit_model
from ._predict import predict_file
from ._scene import predict_scene

__all__ = ["export_main", "fit_main", "predict_main"]

_POSITIVE = checked(int, StrictInterval(Integral, 1, None, closed="left"))
_OVERLAP = checked(float, Interval(Real, 0, 1, closed="left"))
_FRACTION = checked(float, Interval(Real, 0, 1, closed="both"))
_LEVEL = checked(float, Interval(Real, 0, 1, closed="neither"))


def _fit_parser() -> CommandParser:
    # Each dest is fit_model()'s keyword, so that its errors name the flags (see CommandParser).
    p = CommandParser(
        prog="skquake fit",
        description=("Train a registered model on a QuakeSet file's train split, score it on the test split "
                     "and save it (a .skq file) for `skquake predict`."),
    )
    p.add_argument("model", help="registered model name (skquake models)")
    p.add_argument("--data", required=True, type=input_file("QuakeSet file"), help="QuakeSet HDF5 file")
    p.add_argument("--task", required=True, choices=list(QUAKESET_TASKS), help="what to predict, from which input")
    p.add_argument("--out", required=True, metavar="MODEL.skq", help="the model file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--set", dest="params", action="append", default=[], type=name_value, metavar="NAME=VALUE",
                   help="model parameter, e.g. --set max_epochs=3 (repeatable)")
    p.add_argument("--train-on", dest="train_on", default="train", choices=list(TRAIN_SPLITS),
                   help="the splits to train on (default train)")
    p.add_argument("--pool", type=_POSITIVE, default=1, help="average-pool factor for the images (default 1)")
    p.add_argument("--seed", type=int, default=None, help="random_state of the model (every one in a pipeline)")
    p.add_argument("--interval", type=_LEVEL, default=None, metavar="LEVEL",
                   help="magnitude tasks: split-conformal prediction intervals of this confidence level, e.g. "
                        "0.9, calibrated on 25%% of the training events (the uncertainty extra)")
    p.add_argument("--epicentres", type=input_file("epicentre table"), default=None, metavar="TABLE",
                   help="epicentre tasks: CSV or Parquet table (event_id, longitude, latitude, depth_km) of the "
                        "epicentres of a file without epicentre attributes (the real one; docs/epicentre.md)")
    p.add_argument("--json", action="store_true", help="print the saved manifest as JSON")
    return p


def _predict_parser() -> CommandParser:
    # Each dest is predict_file()'s or predict_scene()'s keyword, so that errors name the flags.
    p = CommandParser(
        prog="skquake predict",
        description=("Predict with a saved model (skquake fit, skquake tune --refit): on a QuakeSet file "
                     "(--data; one CSV row per sample, read and written batch by batch) or on a new pair of "
                     "co-registered Sentinel-1 GRD GeoTIFFs (--pre/--post; georeferenced maps, tile by tile)."),
    )
    p.add_argument("model", type=input_file("model file"), help="a .skq model file")
    source = p.add_argument_group("input (one of)")
    source.add_argument("--data", type=input_file("QuakeSet file"), help="QuakeSet HDF5 file")
    source.add_argument("--post", type=input_file("GeoTIFF scene"), help="the scene after the event (VV, VH)")
    source.add_argument("--pre", type=input_file("GeoTIFF scene"),
                        help="the scene before the event, on the same grid (bitemporal models)")
    p.add_argument("--out", required=True, metavar="OUT",
                   help="with --data: the CSV file to write (new); with --post: the folder of the maps")
    files = p.add_argument_group("QuakeSet file options")
    files.add_argument("--split", default="test", choices=[s for s in SPLITS if s != "validation"],
                       help="the samples to predict (default test)")
    files.add_argument("--masks", default=None, metavar="OUT.h5",
                       help="change models: also write the predicted masks (uint8, n x H x W at the model's input "
                            "resolution) and the index columns to this HDF5 file (new, unless --overwrite)")
    p.add_argument("--batch-size", dest="batch_size", type=_POSITIVE, default=64,
                   help="samples (tiles) read and predicted at a time (default 64)")
    scenes = p.add_argument_group("scene options")
    scenes.add_argument("--tile-size", dest="tile_size", type=_POSITIVE, default=None,
                        help="tile side in scene pixels (default: the model's input size times its pooling)")
    scenes.add_argument("--overlap", type=_OVERLAP, default=0.5, help="tile overlap, in [0, 1) (default 0.5)")
    scenes.add_argument("--units", choices=["auto", "linear", "db"], default="auto",
                        help="sigma0 of the scenes: linear, dB or auto (detected; default)")
    scenes.add_argument("--threshold", type=float, default=0.5,
                        help="tiles at or above it are listed (tiles.csv / .geojson, epicentres.csv / .geojson): "
                             "a probability for detection models, a magnitude for magnitude models, a changed "
                             "fraction for change models, a containment probability for epicentre models; "
                             "default 0.5")
    scenes.add_argument("--max-nodata", dest="max_nodata", type=_FRACTION, default=0.5,
                        help="tiles with a larger no-data fraction are skipped (default 0.5)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing CSV file or maps already in --out")
    return p


def fit_main(argv=None) -> int:
    """``skquake fit``: see ``skquake fit --help``.

    Returns
    -------
    int
        0 on success, 2 for a usage error (an unknown model or parameter, a model of another
        task, a missing data file, an existing ``--out``, an epicentre task on a file without
        epicentres and no ``--epicentres``), 1 when the run failed.
    """
    return _fit_parser().run(_fit, argv)


def _fit(args) -> int:
    out = args.out if args.overwrite else _checked_option(new_file, args.out, "--out")
    manifest = fit_model(args.model, args.data, out, task=args.task, params=dict(args.params),
                         train_on=args.train_on, pool=args.pool, seed=args.seed, interval=args.interval,
                         epicentres=args.epicentres, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(manifest, indent=2))
        return 0
    print(f"saved {args.model} ({args.task}) to {args.out}")
    if manifest.get("interval"):
        record = manifest["interval"]
        print(f"  {record['confidence_level']:.0%} interval: prediction -/+ {record['half_width']:.4g} "
              f"(split conformal, {record['n_calibration']} calibration samples)")
    for name, value in manifest["metrics"].items():
        print(f"  test {name}: {value:.4g}" if value is not None else f"  test {name}: n/a")
    return 0


def predict_main(argv=None) -> int:
    """``skquake predict``: see ``skquake predict --help``.

    Returns
    -------
    int
        0 on success, 2 for a usage error (a file that is not a valid model file, data of
        another image size, an existing ``--out``), 1 when reading or writing failed.
    """
    return _predict_parser().run(_predict, argv)


def _predict(args) -> int:
    if (args.data is None) == (args.post is None):
        raise ValueError("pass either --data FILE.h5 (a QuakeSet file) or --post (and, for bitemporal models, "
                         "--pre) GeoTIFF scenes")
    if args.data is not None:
        if args.pre is not None:
            raise ValueError("--pre goes with --post (GeoTIFF scenes), not with --data")
        out = args.out if args.overwrite else _checked_option(new_file, args.out, "--out")
        masks = args.masks
        if masks is not None and not args.overwrite:
            masks = _checked_option(new_file, masks, "--masks")
        n = predict_file(args.model, args.data, out, split=args.split, batch_size=args.batch_size, masks=masks,
                         overwrite=args.overwrite)
        print(f"{n} predictions written to {out}" + (f", their masks to {masks}" if masks is not None else ""))
        return 0
    if args.masks is not None:
        raise ValueError("--masks goes with --data (a QuakeSet file), not with --post")
    out = _checked_option(output_folder, args.out, "--out")
    estimator, manifest = load_model(args.model, return_manifest=True)
    mode = manifest["input"]["mode"]
    if mode == "bitemporal" and args.pre is None:
        raise ValueError(f"{args.model} is a bitemporal model: pass --pre (the scene before the event) too")
    paths = predict_scene(estimator, args.pre if mode == "bitemporal" else None, args.post, out, mode=mode,
                          pool=int(manifest["input"]["pool"]), tile_size=args.tile_size, overlap=args.overlap,
                          units=args.units, threshold=args.threshold, batch_size=args.batch_size,
                          max_nodata=args.max_nodata, overwrite=args.overwrite)
    for name, value in paths.items():
        print(f"{name}: {_epicentre_line(value, args.threshold) if name == 'epicentre' else value}")
    return 0


def _epicentre_line(estimate, threshold) -> str:
    """The scene's epicentre estimate (``predict_scene``'s ``"epicentre"``) in one line."""
    if estimate is None:
        return f"none (no tile reached --threshold {threshold:g})"
    # degrees to ~0.1 m, projected coordinates (metres, feet) to a tenth of their unit
    x, y = (f"{v:.6f}" if abs(v) <= 360 else f"{v:.1f}" for v in (estimate["x"], estimate["y"]))
    return (f"x={x}, y={y} ({estimate['crs']}), depth {estimate['depth_km']:.3g} km, "
            f"from {estimate['n_tiles']} tile(s) around the most probable one (containment "
            f"{estimate['containment']:.3g})")


def _checked_option(check, value, flag):
    """An argparse ``type=`` check applied after parsing (which one depends on the input kind)."""
    try:
        return check(value)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"argument {flag}: {exc}") from None


def _export_parser() -> CommandParser:
    # Each dest is to_onnx()'s keyword, so that its errors name the flags.
    p = CommandParser(
        prog="skquake export",
        description=("Export a saved model (skquake fit, skquake tune --refit) to ONNX for low-resource "
                     "inference (the export extra: pip install 'skquake[export]')."),
    )
    p.add_argument("model", type=input_file("model file"), help="a .skq model file")
    p.add_argument("--format", default="onnx", choices=["onnx"], help="the output format (default onnx)")
    p.add_argument("--out", dest="path", required=True, metavar="MODEL.onnx", help="the file to write")
    p.add_argument("--quantize", choices=["int8"], default=None,
                   help="int8 post-training quantization (deep nets; onnxruntime's dynamic quantization)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--check", dest="check_data", type=input_file("QuakeSet file"), default=None,
                   metavar="FILE.h5", help="report the largest difference to the model's predictions on "
                                           "the test split of this QuakeSet file")
    p.add_argument("--n-check", dest="n_check", type=_POSITIVE, default=32,
                   help="test samples compared with --check (default 32)")
    return p


def export_main(argv=None) -> int:
    """``skquake export``: see ``skquake export --help``.

    Returns
    -------
    int
        0 on success, 2 for a usage error (not a model file, a model that cannot be exported, an
        existing ``--out`` without ``--overwrite``), 1 when writing failed.
    """
    return _export_parser().run(_export, argv)


def _export(args) -> int:
    estimator, manifest = load_model(args.model, return_manifest=True)
    sample = np.zeros((1, *manifest["input"]["shape"]), dtype=np.float32)  # only its shape is read
    try:
        to_onnx(estimator, sample, args.path, quantize=args.quantize, overwrite=args.overwrite)
    except NotImplementedError as exc:  # a model this exporter cannot express: the user's choice of model
        raise ValueError(f"{args.model}: {exc}") from None
    print(f"exported {manifest['model']['name']} to {args.path}")
    if args.check_data is not None:
        X, _, _ = load_quakeset(args.check_data, split="test", mode=manifest["input"]["mode"],
                                pool=int(manifest["input"]["pool"]))
        X = X[: args.n_check]
        print(f"largest difference to predict on {len(X)} test samples: "
              f"{check_onnx_parity(estimator, args.path, X):.3g}")
    return 0
