"""Per-class permutation importance of a damage model's metadata columns (and its image)."""
from __future__ import annotations

import numpy as np
from sklearn.inspection import permutation_importance

from ..metrics import PerClassScorer
from ..utils import fit_tick_labels, import_optional, padded_limits, wrap_text

__all__ = ["importance_table", "per_class_permutation_importance", "plot_permutation_importance"]

class _MetadataView:
    """Shows a damage model ``[image row | metadata]`` so that permuting the first column
    permutes whole images between buildings and the other columns permute one metadata
    column each (instead of thousands of single pixels)."""

    def __init__(self, estimator, images):
        self.estimator = estimator
        self.images = images
        self.classes_ = estimator.classes_

    def _full(self, Z):
        rows = Z[:, 0].astype(np.int64)
        return np.hstack([self.images[rows], Z[:, 1:]]).astype(np.float32)

    def fit(self, Z, y=None):  # permutation_importance never fits; present for duck typing
        return self

    def predict_proba(self, Z):
        return self.estimator.predict_proba(self._full(Z))

    def predict(self, Z):
        return self.estimator.predict(self._full(Z))


def per_class_permutation_importance(estimator, X, y, input_shape, metadata_columns, labels=None,
                                     metric="roc_auc", n_repeats=5, random_state=None, include_image=True):
    """Per-class permutation importance of the metadata columns (and of the whole image).

    scikit-learn's :func:`~sklearn.inspection.permutation_importance` with a
    :class:`PerClassScorer`: the drop of each class's one-vs-rest score when one metadata
    column is shuffled between buildings. With ``include_image`` the image is one more
    "feature" (chips shuffled between buildings).

    Parameters
    ----------
    estimator : fitted damage classifier taking the 2-D layout ``[image | metadata]``
    X, y : the layout array and the classes (a held-out set)
    input_shape : tuple (C, H, W)
    metadata_columns : sequence of str
    labels : array-like, optional
        Classes to score (default ``estimator.classes_``).
    metric : {"roc_auc", "recall"}
    n_repeats : int, default=5
    random_state : int, optional

    Returns
    -------
    dict
        ``features`` (names, ``"image"`` first when included), ``classes``,
        ``importances_mean`` and ``importances_std`` (arrays ``(n_features, n_classes)``),
        ``metric``.
    """
    X = np.asarray(X, dtype=np.float32)
    n_pixels = int(np.prod(input_shape))
    columns = list(metadata_columns)
    if X.ndim != 2 or X.shape[1] != n_pixels + len(columns):
        raise ValueError(f"X must be (n, {n_pixels + len(columns)}) = image {tuple(input_shape)} + "
                         f"{len(columns)} metadata columns, got {X.shape}")
    labels = np.asarray(estimator.classes_ if labels is None else labels)
    view = _MetadataView(estimator, X[:, :n_pixels])
    Z = np.hstack([np.arange(len(X), dtype=np.float32)[:, None], X[:, n_pixels:]])
    scorer = PerClassScorer(labels, metric)
    res = permutation_importance(view, Z, np.asarray(y), scoring=scorer, n_repeats=n_repeats,
                                 random_state=random_state)
    keys = [f"{metric}_{c}" for c in labels.tolist()]
    mean = np.stack([res[k].importances_mean for k in keys], axis=1)
    std = np.stack([res[k].importances_std for k in keys], axis=1)
    features = ["image"] + columns
    if not include_image:
        features, mean, std = features[1:], mean[1:], std[1:]
    return {"features": features, "classes": labels.tolist(), "importances_mean": mean,
            "importances_std": std, "metric": metric}


def importance_table(result, class_names=None, digits=3):
    """Markdown table of :func:`per_class_permutation_importance` (mean +- std per class)."""
    names = class_names or [str(c) for c in result["classes"]]
    head = "| feature | " + " | ".join(names) + " |"
    lines = [head, "|" + " --- |" * (len(names) + 1)]
    for i, feat in enumerate(result["features"]):
        cells = [f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in
                 zip(result["importances_mean"][i], result["importances_std"][i])]
        lines.append(f"| {feat} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_permutation_importance(result, class_names=None, ax=None):
    """Grouped horizontal bar chart of per-class permutation importance (matplotlib).

    One row per feature, one bar per class (error bars: std over repeats), the legend to the
    right of the axes (never over the bars). Long feature and class names are wrapped, the
    importance axis is never narrower than 0.01 (so that all-zero or noise-level importances
    are not blown up to fill the plot), and tick labels never overlap; NaN importances leave
    their bar out.

    Parameters
    ----------
    result : dict
        From :func:`per_class_permutation_importance`.
    class_names : sequence of str, optional
        Legend labels (default: the classes).
    ax : matplotlib Axes, optional
        Draw there; the figure's layout is then left to the caller (use
        ``layout="constrained"`` so that the legend outside the axes is kept in the figure).

    Returns
    -------
    matplotlib.figure.Figure
        Save it with ``fig.savefig(path)``.
    """
    names = [wrap_text(n, 24) for n in (class_names or [str(c) for c in result["classes"]])]
    features = [wrap_text(f, 24) for f in result["features"]]
    mean = np.asarray(result["importances_mean"], dtype=float)
    std = np.nan_to_num(np.asarray(result["importances_std"], dtype=float))
    n_feat, n_cls = mean.shape
    if ax is None:
        import_optional("matplotlib", extra="plot").use("Agg", force=False)
        plt = import_optional("matplotlib.pyplot", extra="plot")
        lines = sum(f.count("\n") + 1 for f in features)
        fig, ax = plt.subplots(figsize=(8, 0.2 * lines + 0.15 * n_feat * max(1, n_cls / 4) + 1.5),
                               layout="constrained")
    else:
        fig = ax.figure
    height = 0.8 / n_cls
    pos = np.arange(n_feat)
    for j in range(n_cls):
        ax.barh(pos + j * height, mean[:, j], height, xerr=std[:, j], label=names[j])
    ax.set_yticks(pos + 0.4 - height / 2, features)
    ax.set_ylim(n_feat - 0.5 + 0.4 - height / 2, -0.5 + 0.4 - height / 2)  # first feature on top
    limits = padded_limits(np.concatenate([[0.0], (mean - std).ravel(), (mean + std).ravel()]))
    ax.set_xlim(*limits)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel(wrap_text(f"drop in one-vs-rest {result['metric']} when shuffled", 60))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, fontsize="small")
    fit_tick_labels(ax)
    return fig
