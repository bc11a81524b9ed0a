"""Per-class permutation importance."""

import numpy as np

from skquake.datasets import (
    CLASS_NAMES,
    DEFAULT_METADATA_COLUMNS,
)
from skquake.models.damage import make_metadata_forest


M = len(DEFAULT_METADATA_COLUMNS)


def test_per_class_permutation_importance(data, tmp_path):
    from skquake.inspection import importance_table, per_class_permutation_importance, plot_permutation_importance

    (X, y, _), (Xt, yt, _), layout = data
    rf = make_metadata_forest(n_estimators=30, random_state=0).fit(X, y)
    res = per_class_permutation_importance(rf, Xt, yt, n_repeats=2, random_state=0, **layout)
    assert res["features"] == ["image"] + list(DEFAULT_METADATA_COLUMNS)
    assert res["importances_mean"].shape == (M + 1, len(rf.classes_))
    np.testing.assert_array_equal(res["importances_mean"][0], 0)  # the forest ignores the image
    assert np.nanmax(res["importances_mean"]) > 0  # some metadata matter
    table = importance_table(res, list(CLASS_NAMES))
    assert table.count("\n") == M + 2 and "| PGA |" in table
    fig = plot_permutation_importance(res, list(CLASS_NAMES))
    fig.savefig(tmp_path / "imp.png")
    assert (tmp_path / "imp.png").stat().st_size > 1000


