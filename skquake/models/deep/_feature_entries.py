"""Registry entries of the backbone-feature pipelines: :class:`BackboneFeatures` + a shallow model.

"Foundation-model embeddings + random forest / ridge / logistic regression" as registered
models (the approach of TorchGeo's earthquake tutorial)::

    features  BackboneFeatures("resnet10t")   global-pooled forward_features, decibel input
    scale     StandardScaler                  linear models only
    rf | ridge | logreg                       the model

Every random step starts at ``random_state=0`` (reproducible by default, as the shallow
baselines; ``random_state=`` sets them all).

The default backbone is small and randomly initialised (``pretrained=False``, as everywhere in
skquake), so the entries run offline on a CPU; a foundation model is one override away:
``create_model("features-rf-det", features__backbone="resnet50", features__pretrained="ssl4eo.pth")``
(``--set features__backbone=resnet50 --set features__pretrained=/path/to/weights.pth`` on the
command line). The family is ``"shallow"``: the benchmark runner hands these pipelines in-memory
arrays with their targets, as it does the scikit-learn baselines.
"""
from __future__ import annotations

from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .._registry import (
    PIPELINE_EXPECTED_FAILED_CHECKS,
    Categorical,
    FloatRange,
    IntRange,
    register_model,
)
from ._features import BackboneFeatures

__all__ = ["make_features_pipeline"]

#: The backbone of the registered entries: resnet10t learns from scratch on the small synthetic
#: files (docs/deep.md) and runs at ~1 ms per 32 x 32 image on a CPU.
DEFAULT_FEATURE_BACKBONE = "resnet10t"


def make_features_pipeline(model, name, *, scale=False, **overrides):
    """``BackboneFeatures`` (+ ``StandardScaler``) + ``model`` as a Pipeline.

    Parameters
    ----------
    model : estimator
        The final scikit-learn estimator.
    name : str
        Its step name, the prefix of its parameters.
    scale : bool, default=False
        Standardise the features before ``model`` (linear models).
    **overrides
        ``input_shape=(C, H, W)`` (the features step's), ``random_state=`` (every step that
        has one: the backbone's initialisation and the model) and any ``step__param``.

    Returns
    -------
    Pipeline
    """
    steps = [("features", BackboneFeatures(DEFAULT_FEATURE_BACKBONE, random_state=0))]
    if scale:
        steps.append(("scale", StandardScaler()))
    pipe = Pipeline(steps + [(name, model)])
    params = {}
    if "input_shape" in overrides:
        params["features__input_shape"] = overrides.pop("input_shape")
    if "random_state" in overrides:
        seed = overrides.pop("random_state")
        params.update({f"{step}__random_state": seed for step, est in pipe.steps
                       if "random_state" in est.get_params()})
    params.update(overrides)
    return pipe.set_params(**params)


_POOL = Categorical(("avg", "max"))
_RF_SPACE = {
    "features__pool": _POOL,
    "rf__n_estimators": IntRange(50, 500, log=True, grid_values=(100, 300)),
    "rf__max_depth": Categorical((None, 10)),
}


def _register(name, task, description, factory, search_space):
    register_model(
        name, task=task, family="shallow", description=f"backbone features (resnet10t) + {description}",
        search_space=search_space, tags=("features",), expected_failed_checks=PIPELINE_EXPECTED_FAILED_CHECKS,
    )(factory)


_register("features-rf-det", "detection", "random forest classifier",
          lambda **o: make_features_pipeline(RandomForestClassifier(n_estimators=100, random_state=0), "rf", **o),
          _RF_SPACE)
_register("features-rf-mag", "magnitude", "random forest regressor",
          lambda **o: make_features_pipeline(
              RandomForestRegressor(n_estimators=100, max_features="sqrt", random_state=0), "rf", **o),
          _RF_SPACE)
_register("features-ridge", "magnitude", "standardisation + ridge regression",
          lambda **o: make_features_pipeline(Ridge(), "ridge", scale=True, **o),
          {"features__pool": _POOL, "ridge__alpha": FloatRange(1e-2, 1e3, log=True, grid_values=(0.1, 1.0, 10.0))})
_register("features-logreg", "detection", "standardisation + logistic regression",
          lambda **o: make_features_pipeline(LogisticRegression(max_iter=1000, random_state=0), "logreg", scale=True,
                                             **o),
          {"features__pool": _POOL, "logreg__C": FloatRange(1e-3, 1e2, log=True, grid_values=(0.01, 0.1, 1.0))})
