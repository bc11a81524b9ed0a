"""One row: scores from predictions, the size of shallow models, selection on validation."""
import numpy as np
import pytest

from skquake.benchmark import TASKS
from skquake.benchmark._row import count_fitted_values, load_splits
from skquake.metrics import compute_metrics as score
from skquake.metrics import needs_proba


def test_probability_metrics_are_scored_from_predict_proba():
    from skquake.metrics import macro_roc_auc_ovr

    rng = np.random.default_rng(0)
    y = np.array([0, 1, 2, 3] * 10)
    proba = rng.dirichlet(np.ones(4), size=len(y))
    proba[np.arange(len(y)), y] += 0.5  # informative but not perfect
    proba /= proba.sum(1, keepdims=True)
    pred = proba.argmax(1)
    from sklearn.metrics import roc_auc_score

    out = score(["roc_auc_macro", "f1_macro"], y, pred, proba, np.arange(4))
    assert out["roc_auc_macro"] == pytest.approx(macro_roc_auc_ovr(y, proba))
    # all classes present: the same as scikit-learn's one-vs-rest macro AUC
    assert out["roc_auc_macro"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    assert 0.5 < out["roc_auc_macro"] < 1
    # Without probabilities (a model without predict_proba) the metric is NaN, the others stay.
    out = score(["roc_auc_macro", "f1_macro"], y, pred)
    assert np.isnan(out["roc_auc_macro"]) and 0 < out["f1_macro"] <= 1
    assert needs_proba(["accuracy", "roc_auc_macro"]) and not needs_proba(["mae", "f1_macro"])


def test_shallow_model_size_counts_fitted_values():
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVR

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 6)), rng.normal(size=30)
    svr = make_pipeline(PCA(3, random_state=0), SVR()).fit(X, y)
    pca, model = svr[0], svr[-1]
    assert count_fitted_values(svr) == pca.components_.size + model.support_vectors_.size + model.dual_coef_.size
    forest = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y)
    assert count_fitted_values(forest) == sum(t.tree_.node_count for t in forest.estimators_)
    assert count_fitted_values(object()) is None


def test_selection_on_validation_restores_the_best_epoch(tiny_quakeset_factory):
    """The skorch callbacks keep the best epoch of the headline metric (a tie keeps the first)
    and leave the net with its weights: predicting val again gives that epoch's score."""
    from skquake.benchmark import _deep
    from skquake.models import create_model

    path = tiny_quakeset_factory(n_events=24, patches_per_event=2)
    task = TASKS["magnitude-single"]
    data = load_splits(task, path, pool=1, lazy=False)
    _deep.seed_everything(0)
    net = create_model("resnet10t-mse", backbone="test_resnet", max_epochs=4, batch_size=16, random_state=0)
    callbacks = _deep.selection_callbacks(net, task.metrics[0], *data["val"])
    net.set_params(callbacks=callbacks)
    net.fit(*data["train"])
    record = _deep.selection_record(net, callbacks)
    curve = record["val_curve"]
    assert len(curve) == 4 and record["select_s"] > 0
    assert record["best_epoch"] == int(np.argmin(curve)) + 1  # MAE: lower is better, first of ties
    X_val, y_val = data["val"]
    assert score(["mae"], y_val, net.predict(X_val))["mae"] == pytest.approx(curve[record["best_epoch"] - 1], abs=1e-6)
    # Estimators that are not skorch nets are fitted once, with their registered settings.
    assert _deep.selection_callbacks(create_model("rfr"), "mae", *data["val"]) is None
