"""The QuakeSet paper's shallow baselines as registered scikit-learn pipelines.

Each registered factory returns an unfitted :class:`~sklearn.pipeline.Pipeline`::

    image    ToImages            un-flattens 2-D input when ``input_shape`` is given
    fill     NaNFiller(0.0)      no-data -> 0, as the public loaders do
    pool     AveragePooling      pool_size=1, max_size=128: 512 x 512 -> 128 x 128, smaller as is
    db       Decibels            10 log10(x + 1e-9)
    flatten  Flatten
    scale    StandardScaler      SVM pipelines only (forests do not need it)
    pca      PCA                 n_components=None: min(n_samples, n_features) components
    svr | svc | rf               the model

Overrides are routed with ``set_params`` (``create_model("svr-rbf", pca__n_components=50)``),
plus two conveniences: ``input_shape=(C, H, W)`` for flattened input and ``random_state=`` for
every random step (PCA and forests).

Why pool to 128 x 128: the paper's PCA on full-resolution 4 x 512 x 512 images (1,048,576
features) needs the flattened training set in memory (13 GiB of float32 for 3,327 samples, plus copies
in the scaler and PCA), which does not fit this machine; 4x average pooling (multilooking)
brings it to 65,536 features and the whole fit under 8 GiB (see docs/shallow.md for measured
figures). Pooling happens on linear intensities before the decibel step, so data read with
``load_quakeset(..., pool=4)`` and full-resolution data give the same features.

Why ``n_components=None``: the paper reduced each sample to "about 2000" features without
saying how; we read it as PCA keeping as many components as its training samples allow, which
``None`` does (``min(n_samples, n_features)``). It also never exceeds what small data allows
(an int larger than ``min(n_samples, n_features)`` makes PCA fail).
"""
from __future__ import annotations

import functools
from numbers import Integral

from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from ...preprocessing import AveragePooling, ChangeFeatures, Decibels, Flatten, NaNFiller, SpatialStatistics, ToImages
from ...utils import HasMethods, StrictInterval, validate_params
from .._registry import PIPELINE_EXPECTED_FAILED_CHECKS, Categorical, FloatRange, IntRange, register_model

__all__ = ["DEFAULT_MAX_SIZE", "make_change_statistics_pipeline", "make_shallow_pipeline"]

#: Images larger than this (height or width) are average-pooled down to it inside the
#: default pipelines (512 -> 128 on the real file).
DEFAULT_MAX_SIZE = 128

_PCA_GRID = Categorical((0.95, None))

_MODEL_CONSTRAINTS = {"model": [HasMethods(["fit", "predict"])], "name": [str]}


@validate_params(
    {
        **_MODEL_CONSTRAINTS,
        "scale": ["boolean"],
        "max_size": [None, StrictInterval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def make_shallow_pipeline(model, name, *, scale=True, max_size=DEFAULT_MAX_SIZE, **overrides):
    """Build the preprocessing + PCA + ``model`` pipeline used by the registered baselines.

    Parameters
    ----------
    model : estimator
        The final scikit-learn estimator.
    name : str
        Its step name (``"svr"``, ``"svc"``, ``"rf"``), the prefix of its parameters.
    scale : bool, default=True
        Insert a ``StandardScaler`` before PCA (kernel methods depend on feature scale).
    max_size : int or None, default=DEFAULT_MAX_SIZE
        ``max_size`` of the pooling step; None keeps full resolution (the paper's recipe).
    **overrides
        ``input_shape=(C, H, W)``, ``random_state=int`` and any ``step__param`` of the
        pipeline, applied with ``set_params``.

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> from sklearn.svm import SVR
    >>> from skquake.models.shallow import make_shallow_pipeline
    >>> pipe = make_shallow_pipeline(SVR(), "svr", input_shape=(4, 64, 64), svr__C=10.0)
    >>> [name for name, _ in pipe.steps]
    ['image', 'fill', 'pool', 'db', 'flatten', 'scale', 'pca', 'svr']
    >>> pipe.get_params()["image__input_shape"], pipe.get_params()["svr__C"]
    ((4, 64, 64), 10.0)
    """
    steps = [
        ("image", ToImages()),
        ("fill", NaNFiller(fill_value=0.0)),
        ("pool", AveragePooling(pool_size=1, max_size=max_size)),
        ("db", Decibels()),
        ("flatten", Flatten()),
    ]
    if scale:
        steps.append(("scale", StandardScaler()))
    steps += [("pca", PCA(n_components=None, random_state=0)), (name, model)]
    return _apply_overrides(Pipeline(steps), overrides)


@validate_params(_MODEL_CONSTRAINTS, prefer_skip_nested_validation=True)
def make_change_statistics_pipeline(model, name, **overrides):
    """Build the change-statistics + ``model`` pipeline of the ``*-change`` models.

    Not in the papers: a location-invariant baseline. The paper's recipe flattens pixels, so
    PCA sees an earthquake signature at a different place in every patch; here each patch
    becomes per-channel statistics (mean, std, quantiles) of its decibels and of the dB
    change between the two dates, which say how much changed, not where::

        image   ToImages
        pool    AveragePooling(pool_size=4, max_size=128)   multilook: tames the speckle
        db      Decibels                                     NaN (no-data) stays NaN
        change  ChangeFeatures(keep_dates=True, non_bitemporal="passthrough")
                                                             [t0, t1, t1 - t0] per polarization;
                                                             single-image input passes as is
        stats   SpatialStatistics                            NaN-aware, (n, channels x 9)
        <name>  the model

    Parameters
    ----------
    model : estimator
        The final scikit-learn estimator.
    name : str
        Its step name (the prefix of its parameters).
    **overrides
        ``input_shape=(C, H, W)``, ``random_state=int`` and any ``step__param``, as in
        :func:`make_shallow_pipeline`.

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from skquake.models.shallow import make_change_statistics_pipeline
    >>> rng = np.random.default_rng(0)
    >>> X = rng.gamma(1.0, 0.05, size=(20, 4, 16, 16))  # bitemporal, linear backscatter
    >>> y = np.arange(20) % 2
    >>> pipe = make_change_statistics_pipeline(RandomForestClassifier(n_estimators=5), "rf",
    ...                                        random_state=0).fit(X, y)
    >>> names = pipe[:-1].get_feature_names_out()
    >>> len(names), names[0], names[-1]
    (54, 't0_VV_mean', 'diff_VH_q99')
    """
    pipe = Pipeline([
        ("image", ToImages()),
        ("pool", AveragePooling(pool_size=4, max_size=DEFAULT_MAX_SIZE)),
        ("db", Decibels()),
        ("change", ChangeFeatures(kind="difference", keep_dates=True, non_bitemporal="passthrough")),
        ("stats", SpatialStatistics()),
        (name, model),
    ])
    return _apply_overrides(pipe, overrides)


def _apply_overrides(pipe, overrides):
    params = {}
    if "input_shape" in overrides:
        params["image__input_shape"] = overrides.pop("input_shape")
    if "random_state" in overrides:
        seed = overrides.pop("random_state")
        params.update(
            {f"{step}__random_state": seed for step, est in pipe.steps if "random_state" in est.get_params()}
        )
    params.update(overrides)
    return pipe.set_params(**params)


# ----------------------------------------------------------------------------- search spaces
def _svm_space(prefix, kernel):
    space = {
        "pca__n_components": _PCA_GRID,
        f"{prefix}__C": FloatRange(0.1, 100.0, log=True, grid_values=(0.1, 1.0, 10.0)),
    }
    if kernel == "rbf":
        space[f"{prefix}__gamma"] = Categorical(("scale", "auto"))
    else:
        space[f"{prefix}__coef0"] = FloatRange(0.0, 1.0, grid_values=(0.0, 1.0))
    return space


_RF_SPACE = {
    "pca__n_components": _PCA_GRID,
    "rf__n_estimators": IntRange(50, 500, log=True, grid_values=(100, 300)),
    "rf__max_depth": Categorical((None, 10)),
}


# ----------------------------------------------------------------------------- registry
# scikit-learn estimator checks these pipelines cannot pass, and why (the common tests read them
# from the registry).
_PAPER_FAILED_CHECKS = {
    **PIPELINE_EXPECTED_FAILED_CHECKS,
    "check_estimators_nan_inf": (
        "NaN is no-data in SAR images and the pipeline fills it by design (NaNFiller); "
        "Pipeline does not take allow_nan from its first step"
    ),
}
_CHANGE_FAILED_CHECKS = {
    **PIPELINE_EXPECTED_FAILED_CHECKS,
    "check_estimators_nan_inf": (
        "NaN is no-data in SAR images: SpatialStatistics ignores it by design (infinity is "
        "refused by the forest); Pipeline does not take allow_nan from its first step"
    ),
}

# The papers' baselines share family, tag and expected failures; each entry says the rest.
_paper_model = functools.partial(register_model, family="shallow", tags=("paper",),
                                 expected_failed_checks=_PAPER_FAILED_CHECKS)
_change_model = functools.partial(register_model, family="shallow", tags=("change",),
                                  expected_failed_checks=_CHANGE_FAILED_CHECKS)


@_paper_model(
    "svr-rbf", task="magnitude", paper_name="SVR-RBF",
    description="PCA + support vector regression, RBF kernel",
    search_space=_svm_space("svr", "rbf"),
)
def svr_rbf(**overrides):
    return make_shallow_pipeline(SVR(kernel="rbf"), "svr", **overrides)


@_paper_model(
    "svr-poly", task="magnitude", paper_name="SVR-poly",
    description="PCA + support vector regression, degree-3 polynomial kernel",
    search_space=_svm_space("svr", "poly"),
)
def svr_poly(**overrides):
    return make_shallow_pipeline(SVR(kernel="poly", degree=3), "svr", **overrides)


@_paper_model(
    "rfr", task="magnitude", paper_name="RFR",
    description="PCA + random forest regressor",
    search_space=_RF_SPACE,
)
def rfr(**overrides):
    model = RandomForestRegressor(n_estimators=100, max_features="sqrt", random_state=0)
    return make_shallow_pipeline(model, "rf", scale=False, **overrides)


@_paper_model(
    "svc-rbf", task="detection", paper_name="SVC-RBF",
    description="PCA + support vector classifier, RBF kernel",
    search_space=_svm_space("svc", "rbf"),
)
def svc_rbf(**overrides):
    return make_shallow_pipeline(SVC(kernel="rbf"), "svc", **overrides)


@_paper_model(
    "svc-poly", task="detection", paper_name="SVC-poly",
    description="PCA + support vector classifier, degree-3 polynomial kernel",
    search_space=_svm_space("svc", "poly"),
)
def svc_poly(**overrides):
    return make_shallow_pipeline(SVC(kernel="poly", degree=3), "svc", **overrides)


@_paper_model(
    "rfc", task="detection", paper_name="RFC",
    description="PCA + random forest classifier",
    search_space=_RF_SPACE,
)
def rfc(**overrides):
    model = RandomForestClassifier(n_estimators=100, random_state=0)
    return make_shallow_pipeline(model, "rf", scale=False, **overrides)


# Location-invariant variants (not in the papers): change statistics + random forest.
_CHANGE_RF_SPACE = {
    "pool__pool_size": Categorical((2, 4, 8)),
    "rf__n_estimators": IntRange(100, 500, log=True, grid_values=(100, 300)),
    "rf__max_depth": Categorical((None, 10)),
}


@_change_model(
    "rfr-change", task="magnitude", search_space=_CHANGE_RF_SPACE,
    description="per-channel dB and dB-change statistics + random forest regressor (not in the papers)",
)
def rfr_change(**overrides):
    model = RandomForestRegressor(n_estimators=300, max_features="sqrt", random_state=0)
    return make_change_statistics_pipeline(model, "rf", **overrides)


@_change_model(
    "rfc-change", task="detection", search_space=_CHANGE_RF_SPACE,
    description="per-channel dB and dB-change statistics + random forest classifier (not in the papers)",
)
def rfc_change(**overrides):
    model = RandomForestClassifier(n_estimators=300, random_state=0)
    return make_change_statistics_pipeline(model, "rf", **overrides)
