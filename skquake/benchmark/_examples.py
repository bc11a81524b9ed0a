"""Example predictions of per-pixel tasks (change detection): kept by each row, drawn as a figure.

A change map is judged by looking at it, so a row of a task with ``n_examples`` keeps, for a
few test samples chosen from the truth alone (the same samples for every model), the two
images, the truth masks and its predicted masks in ``<out>/examples/<task>/<model>__seed<N>.npz``.
The report draws them side by side, one figure per task.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Sequence

import numpy as np

from ..utils import atomic_output, to_decibels, wrap_text

__all__ = ["change_maps_figure", "example_indices", "save_examples"]

_CELL = 1.7  # inches per image


def example_indices(y, n: int, n_samples: int) -> np.ndarray:
    """``n`` test samples to show, chosen from the truth only, so every model shows the same ones.

    With masks ``y`` (samples, 2, H, W): the samples at evenly spaced quantiles of the earthquake
    mask's area (largest first) among those that have one, and one sample without (where a false
    alarm shows). Without truth: evenly spaced samples.
    """
    n = min(n, n_samples)
    if y is None or n == 0:
        return np.unique(np.linspace(0, n_samples - 1, n).round().astype(int)) if n else np.zeros(0, int)
    area = np.asarray(y[:, 0]).reshape(len(y), -1).sum(axis=1)
    with_quake = np.flatnonzero(area > 0)
    without = np.flatnonzero(area == 0)
    n_quake = min(len(with_quake), n - 1 if len(without) else n)
    by_area = with_quake[np.argsort(-area[with_quake], kind="stable")]
    chosen = list(by_area[np.linspace(0, len(by_area) - 1, n_quake).round().astype(int)]) if n_quake else []
    chosen += list(without[: n - len(chosen)])
    return np.array(list(dict.fromkeys(int(i) for i in chosen)), dtype=int)


def _image(X, i) -> np.ndarray:
    x = X[i]
    return np.asarray(x["image"] if isinstance(x, Mapping) else x, dtype=np.float32)


def save_examples(out, row: Mapping, X, y, y_pred, n: int) -> str:
    """Write the example file of one row; returns its path relative to ``out``."""
    idx = example_indices(y, n, len(X))
    images = np.stack([_image(X, i) for i in idx]) if len(idx) else np.zeros((0, 4, 1, 1), np.float32)
    relative = Path("examples") / str(row["task"]) / f"{row['model']}__seed{row['seed']}.npz"
    path = Path(out) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "indices": idx,
        # VV of both dates, in dB: what a SAR analyst looks at; float16 keeps the files small
        "pre_db": to_decibels(images[:, 0]).astype(np.float16),
        "post_db": to_decibels(images[:, 2]).astype(np.float16),
        "pred": np.asarray(y_pred)[idx].astype(np.uint8),
    }
    if y is not None:
        arrays["truth"] = np.asarray(y)[idx].astype(np.uint8)
    with atomic_output(path, overwrite=True) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return relative.as_posix()


def _load(out: Path, rows: Sequence[dict]) -> list[tuple[str, dict]]:
    """(model, arrays) of the lowest seed of each model that has an example file."""
    chosen: dict[str, dict] = {}
    for r in rows:
        if r.get("status") == "ok" and r.get("examples_file"):
            if r["model"] not in chosen or r["seed"] < chosen[r["model"]]["seed"]:
                chosen[r["model"]] = r
    loaded = []
    for model in sorted(chosen):
        path = out / chosen[model]["examples_file"]
        if path.is_file():
            with np.load(path) as f:
                loaded.append((model, {k: f[k] for k in f.files}))
    return loaded


def change_maps_figure(plt, out: Path, task_name: str, rows: Sequence[dict]):
    """Pre and post images (VV, dB), the truth masks and each model's prediction, one row per
    example sample; ``None`` when no row kept examples."""
    loaded = _load(Path(out), rows)
    if not loaded:
        return None
    first = loaded[0][1]
    if not all(np.array_equal(a["indices"], first["indices"]) for _, a in loaded):
        return None  # rows of different files or versions: no common samples to compare
    columns = [("pre (VV dB)", "pre_db"), ("post (VV dB)", "post_db")]
    if "truth" in first:
        columns += [("truth: earthquake", ("truth", 0)), ("truth: any change", ("truth", 1))]
    columns += [(model, ("pred", model)) for model, _ in loaded]
    n_rows, n_cols = len(first["indices"]), len(columns)
    if n_rows == 0:
        return None
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(_CELL * n_cols, _CELL * n_rows + 0.8),
                             layout="constrained", squeeze=False)
    by_model = dict(loaded)
    for r in range(n_rows):
        db = np.concatenate([first["pre_db"][r].ravel(), first["post_db"][r].ravel()]).astype(np.float32)
        db = db[db > -80]  # filled no-data (-90 dB) would stretch the colour range
        vmin, vmax = np.percentile(db, (2, 98)) if db.size else (-25.0, 5.0)
        for c, (title, key) in enumerate(columns):
            ax = axes[r, c]
            if isinstance(key, str):
                ax.imshow(first[key][r].astype(np.float32), cmap="gray", vmin=vmin, vmax=vmax)
            elif key[0] == "truth":
                ax.imshow(first["truth"][r, key[1]], cmap="Reds", vmin=0, vmax=1)
            else:
                ax.imshow(by_model[key[1]]["pred"][r], cmap="Blues", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(wrap_text(title, max(8, math.floor(_CELL * 9))), fontsize=8)
        axes[r, 0].set_ylabel(f"test sample {int(first['indices'][r])}", fontsize=8)
    fig.suptitle(f"{task_name}: change maps of the test split (red: truth, blue: predicted change; "
                 "lowest seed of each model)", fontsize=10)
    return fig
