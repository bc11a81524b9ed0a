"""Registry entries of the epicentre models (task "epicentre"): the patch-centre baseline,
location features + forests / SVMs, and a small CNN with both heads."""
from __future__ import annotations

from sklearn.compose import TransformedTargetRegressor
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from ...preprocessing import LocationFeatures, ToImages
from ...utils import HasMethods, validate_params
from .._registry import PIPELINE_EXPECTED_FAILED_CHECKS, Categorical, FloatRange, IntRange, register_model
from ._meta import EpicentreEstimator, _PatchCentre
from ._targets import Y_CHECKS, y_checks_reason

__all__ = ["make_epicentre_pipeline"]


@validate_params(
    {"classifier": [HasMethods(["fit", "predict"])], "regressor": [HasMethods(["fit", "predict"])],
     "scale": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def make_epicentre_pipeline(classifier, regressor, *, scale=False, **overrides):
    """Location features + :class:`~skquake.models.epicentre.EpicentreEstimator`::

        image       ToImages            un-flattens 2-D input when ``input_shape`` is given
        features    LocationFeatures    coarse change (bitemporal) or texture (single) map,
                                        its centroid and spread
        scale       StandardScaler      only with ``scale=True`` (kernel machines)
        epicentre   EpicentreEstimator(classifier, regressor)

    Parameters
    ----------
    classifier, regressor : estimator
        The containment classifier and the 3-output position / depth regressor.
    scale : bool, default=False
    **overrides
        ``input_shape=(C, H, W)``, ``random_state=`` (the epicentre step's, which seeds every
        part) and any ``step__param``, applied with ``set_params``.

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    >>> from skquake.models.epicentre import make_epicentre_pipeline
    >>> pipe = make_epicentre_pipeline(RandomForestClassifier(), RandomForestRegressor(),
    ...                                random_state=0, epicentre__classifier__n_estimators=50)
    >>> [name for name, _ in pipe.steps]
    ['image', 'features', 'epicentre']
    >>> pipe.get_params()["epicentre__classifier__n_estimators"]
    50
    """
    steps = [("image", ToImages()), ("features", LocationFeatures())]
    if scale:
        steps.append(("scale", StandardScaler()))
    steps.append(("epicentre", EpicentreEstimator(classifier, regressor)))
    pipe = Pipeline(steps)
    params = {}
    if "input_shape" in overrides:
        params["image__input_shape"] = overrides.pop("input_shape")
    if "random_state" in overrides:
        # the step's own name, when also given, wins over the shorthand (a factory's default seed)
        seed = overrides.pop("random_state")
        overrides.setdefault("epicentre__random_state", seed)
    return pipe.set_params(**params, **overrides)


_PIPELINE_FAILED_CHECKS = {
    **y_checks_reason(Y_CHECKS + ("check_fit2d_1sample",)),
    **PIPELINE_EXPECTED_FAILED_CHECKS,
    "check_estimators_nan_inf": (
        "NaN is no-data in SAR images: LocationFeatures ignores it by design; Pipeline does not take "
        "allow_nan from its first step"
    ),
}

_FEATURE_SPACE = {"features__grid": Categorical((3, 4, 6)), "features__filter_size": Categorical((1, 3, 5))}


@register_model(
    "epicentre-centre", task="epicentre", family="shallow", tags=("baseline",),
    description="the patch-centre guess: majority containment, offset (0, 0), the training mean depth",
)
def epicentre_centre(**overrides):
    return EpicentreEstimator(DummyClassifier(strategy="most_frequent"), _PatchCentre()).set_params(**overrides)


@register_model(
    "epicentre-rf", task="epicentre", family="shallow", expected_failed_checks=_PIPELINE_FAILED_CHECKS,
    description="location features (coarse change map, centroid) + random forest classifier and regressor",
    search_space={
        **_FEATURE_SPACE,
        "epicentre__classifier__n_estimators": IntRange(100, 500, log=True, grid_values=(100, 300)),
        "epicentre__regressor__regressor__min_samples_leaf": Categorical((1, 5, 10)),
        "epicentre__regressor__regressor__max_features": Categorical((1.0, "sqrt")),
    },
)
def epicentre_rf(**overrides):
    # One forest for three outputs splits on their summed squared errors: unscaled, the depth
    # (spread ~8 km) would decide every split and the offsets (~0.2 km) none.
    regressor = TransformedTargetRegressor(RandomForestRegressor(n_estimators=300, min_samples_leaf=5),
                                           transformer=StandardScaler())
    return make_epicentre_pipeline(RandomForestClassifier(n_estimators=300), regressor,
                                   **{"random_state": 0, **overrides})


@register_model(
    "epicentre-svm", task="epicentre", family="shallow", expected_failed_checks=_PIPELINE_FAILED_CHECKS,
    description="location features, standardised + SVC (RBF) and per-output SVR (RBF) on standardised targets",
    search_space={
        **_FEATURE_SPACE,
        "epicentre__classifier__C": FloatRange(0.1, 100.0, log=True, grid_values=(0.1, 1.0, 10.0)),
        "epicentre__regressor__regressor__estimator__C": FloatRange(0.1, 100.0, log=True,
                                                                     grid_values=(0.1, 1.0, 10.0)),
    },
)
def epicentre_svm(**overrides):
    # SVR's epsilon is in target units: standardising the targets makes one epsilon fit the
    # offsets (tenths of a km) and the depth (tens of km) alike.
    regressor = TransformedTargetRegressor(MultiOutputRegressor(SVR(kernel="rbf")), transformer=StandardScaler())
    return make_epicentre_pipeline(SVC(kernel="rbf", probability=True), regressor, scale=True,
                                   **{"random_state": 0, **overrides})


@register_model(
    "resnet10t-epicentre", task="epicentre", family="deep", tags=("small",),
    description="resnet10t with a containment logit and position / depth outputs (BCE + MSE), not a paper model",
    search_space={
        "lr": FloatRange(3e-4, 3e-2, log=True, grid_values=(1e-3, 3e-3, 1e-2)),
        "weight_decay": FloatRange(1e-4, 1e-1, log=True, grid_values=(0.01, 0.05)),
        "criterion__position_weight": FloatRange(0.3, 3.0, log=True, grid_values=(0.5, 1.0, 2.0)),
    },
)
def resnet10t_epicentre(**overrides):
    # 20 epochs at lr 3e-3: on the default synthetic file at 32 x 32 (pool=2) the epicentre
    # error fell from 10 to 20 epochs and hardly after; a fit takes ~8 s on one CPU thread.
    from ._deep import DeepEpicentreEstimator  # torch: keeps torch out of ``import skquake.models.epicentre``

    return DeepEpicentreEstimator(**{"backbone": "resnet10t", "lr": 3e-3, "max_epochs": 20, **overrides})
