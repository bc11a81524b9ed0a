"""GroupCalibratedClassifierCV: calibrated detection probabilities with folds by event."""
import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GroupKFold

from skquake.datasets import load_quakeset
from skquake.models import create_model
from skquake.uncertainty import GroupCalibratedClassifierCV
from skquake.utils import InvalidParameterError


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_shallow_detection_model(tiny_quakeset, method):
    X, y, groups = load_quakeset(tiny_quakeset, split="all", target="label", pool=4)
    model = create_model("rfc-change", rf__n_estimators=10, random_state=0)
    clf = GroupCalibratedClassifierCV(model, method=method, cv=3).fit(X, y, groups=groups)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.all((proba >= 0) & (proba <= 1)) and len(clf.calibrated_classifiers_) == 3
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    assert clf.get_params()["cv"] == 3  # the folds by event replaced cv for the fit only


def _detection_data(n=300, per_event=3, seed=0):
    rng = np.random.default_rng(seed)
    groups = np.arange(n) // per_event
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] + rng.normal(size=groups.max() + 1)[groups] > 0).astype(int)
    return np.column_stack([np.arange(n), X]), y, groups


@pytest.mark.parametrize("cv", [None, 4, GroupKFold(4)])
@pytest.mark.parametrize("ensemble", [True, False])
def test_folds_are_by_event(recorder, cv, ensemble):
    _, Classifier, seen = recorder
    X, y, groups = _detection_data()
    GroupCalibratedClassifierCV(Classifier(), cv=cv, ensemble=ensemble).fit(X, y, groups=groups)
    folds = [s for s in seen if len(s) < len(y)]
    assert len(folds) == (5 if cv is None else 4)
    for train in folds:
        held_out = np.setdiff1d(np.arange(len(y)), train)
        assert not set(groups[train]) & set(groups[held_out])


def test_without_groups_is_scikit_learns():
    X, y, _ = _detection_data()
    ours = GroupCalibratedClassifierCV(LogisticRegression(), cv=3).fit(X, y)
    theirs = CalibratedClassifierCV(LogisticRegression(), cv=3).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X))


def test_calibration_improves_a_miscalibrated_model():
    """A forest with very few samples per leaf is overconfident; sigmoid calibration by event lowers
    its log loss on new events."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import log_loss

    X, y, groups = _detection_data(n=1200, seed=1)
    fit, test = groups < 200, groups >= 200
    forest = RandomForestClassifier(n_estimators=20, random_state=0)
    raw = forest.fit(X[fit, 1:], y[fit]).predict_proba(X[test, 1:])
    calibrated = GroupCalibratedClassifierCV(forest, cv=4).fit(X[fit, 1:], y[fit], groups=groups[fit])
    assert log_loss(y[test], calibrated.predict_proba(X[test, 1:])) < log_loss(y[test], raw)


def test_bad_inputs():
    X, y, groups = _detection_data(n=30)
    with pytest.raises(InvalidParameterError, match="'estimator' parameter of GroupCalibratedClassifierCV must "
                                                    "be an object implementing 'fit' and 'predict_proba'.* Got Ridge"):
        GroupCalibratedClassifierCV(Ridge()).fit(X, y, groups=groups)
    with pytest.raises(ValueError, match=r"groups must hold one event id per sample, 30 in all; got shape \(29,\)"):
        GroupCalibratedClassifierCV(LogisticRegression()).fit(X, y, groups=groups[1:])
    with pytest.raises(ValueError, match=r"cv=20 splits by event, and groups holds 10 event\(s\)"):
        GroupCalibratedClassifierCV(LogisticRegression(), cv=20).fit(X, y, groups=groups)
    with pytest.raises(InvalidParameterError, match="'cv' parameter of GroupCalibratedClassifierCV must be"):
        GroupCalibratedClassifierCV(LogisticRegression(), cv=0.5).fit(X, y, groups=groups)
    with pytest.raises(InvalidParameterError, match="'method' parameter of GroupCalibratedClassifierCV must be"):
        GroupCalibratedClassifierCV(LogisticRegression(), method="beta").fit(X, y, groups=groups)
