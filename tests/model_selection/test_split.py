import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from skquake.datasets import QuakeSet, load_quakeset
from skquake.model_selection import EventKFold, file_split, predefined_split
from skquake.models import create_model


def test_event_kfold_keeps_events_together(tiny_quakeset):
    X, y, groups = load_quakeset(tiny_quakeset, split="all")
    for train, test in EventKFold(n_splits=3).split(X, y, groups):
        assert not set(groups[train]) & set(groups[test])
    with pytest.raises(ValueError, match="needs groups"):
        next(EventKFold(3).split(X, y))
    with pytest.raises(ValueError, match="at least 50 events"):
        next(EventKFold(50).split(X, y, groups))


def test_predefined_split():
    cv = predefined_split(["train", "train", "val", "validation", "train"])
    (train, test), = cv.split()
    assert list(train) == [0, 1, 4] and list(test) == [2, 3]
    with pytest.raises(ValueError, match=r"unknown split name\(s\) \['test'\]"):
        predefined_split(["train", "test"])
    with pytest.raises(ValueError, match="both"):
        predefined_split(["train", "train"])


def test_file_split_matches_the_file(tiny_quakeset):
    X, y, groups, cv = file_split(tiny_quakeset, target="magnitude")
    n_train, n_val = len(QuakeSet(tiny_quakeset, "train")), len(QuakeSet(tiny_quakeset, "val"))
    assert len(X) == len(y) == len(groups) == n_train + n_val
    (train, val), = cv.split()
    np.testing.assert_array_equal(train, np.arange(n_train))
    np.testing.assert_array_equal(groups[val], QuakeSet(tiny_quakeset, "val").groups)
    # select on val, refit on train + val
    search = GridSearchCV(create_model("rfr", rf__n_estimators=5), {"rf__max_depth": [2, None]}, cv=cv,
                          scoring="neg_mean_absolute_error").fit(X, y)
    assert search.best_estimator_.named_steps["rf"].n_features_in_ > 0
