"""The permutation-importance plot is fit for a paper: no text cut off or overlapping, the legend
beside the bars (never over them), an importance axis that does not zoom to noise."""
import math

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from skquake.datasets import CLASS_NAMES, DEFAULT_METADATA_COLUMNS  # noqa: E402
from skquake.inspection import plot_permutation_importance  # noqa: E402


def _result(features, n_classes, mean, std=0.0):
    shape = (len(features), n_classes)
    return {"features": list(features), "classes": list(range(n_classes)), "metric": "roc_auc",
            "importances_mean": np.broadcast_to(np.asarray(mean, dtype=float), shape).copy(),
            "importances_std": np.broadcast_to(np.asarray(std, dtype=float), shape).copy()}


def _realistic():
    """The damage benchmark's layout: the image and 22 metadata columns, 4 classes."""
    rng = np.random.default_rng(0)
    features = ["image"] + list(DEFAULT_METADATA_COLUMNS)
    return _result(features, 4, rng.normal(0, 0.03, (len(features), 4)), rng.uniform(0, 0.02, (len(features), 4)))


CASES = {
    "damage layout": lambda: (_realistic(), list(CLASS_NAMES)),
    "long names, six classes": lambda: (
        _result(["image"] + [f"a_rather_long_metadata_column_name_{i}" for i in range(5)], 6, 0.02, 0.01),
        [f"class with a rather long name {i}" for i in range(6)]),
    "one feature, one class": lambda: (_result(["PGA"], 1, 0.1), None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_permutation_plot_is_readable(case, layout_problems):
    result, names = CASES[case]()
    fig = plot_permutation_importance(result, names)
    assert layout_problems(fig) == []


@pytest.mark.parametrize("value", [0.0, 1e-9])
def test_noise_level_importance_does_not_fill_the_axis(value):
    """All-zero or rounding-noise importances stay tiny bars on a readable axis (at least 0.005
    wide), instead of an axis labelled in units of 1e-9."""
    fig = plot_permutation_importance(_result(["image", "PGA", "VS30"], 4, value), list(CLASS_NAMES))
    lo, hi = fig.axes[0].get_xlim()
    assert hi - lo >= 0.005


def test_nan_importance_leaves_its_bar_out(layout_problems):
    """A class without a score (NaN) does not break the plot or its limits."""
    result = _realistic()
    result["importances_mean"][3, 1] = np.nan
    result["importances_std"][:, 2] = np.nan
    fig = plot_permutation_importance(result, list(CLASS_NAMES))
    assert all(math.isfinite(v) for v in fig.axes[0].get_xlim())
    assert layout_problems(fig) == []


def test_plot_draws_on_a_given_axes():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(layout="constrained")
    assert plot_permutation_importance(_realistic(), list(CLASS_NAMES), ax=ax) is fig
    assert len(ax.patches) == 4 * (1 + len(DEFAULT_METADATA_COLUMNS))
    plt.close(fig)
