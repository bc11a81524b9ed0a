"""scikit-learn's estimator checks over every skquake estimator, found rather than listed.

In the manner of scikit-learn's and imbalanced-learn's common tests, the estimators come from two
sources, so that a new one is checked without being added here:

* :func:`skquake.utils.all_estimators`: every public estimator class of the package, built with
  the small settings of ``INIT_PARAMS`` (default settings when a class has no entry; several
  entries give several configurations);
* the model registry: every registered model that is not an instance of one of those classes
  (the scikit-learn pipelines), built by ``create_model`` with ``REGISTERED_PARAMS``. A registered
  model of one of skquake's classes (the deep nets, with real backbones) is checked through its
  class.

The checks feed 2-D data with arbitrary numbers of features. skquake's image transformers read
2-D input without ``input_shape`` as plain features (``F`` channels of a 1 x 1 image), so the
checks exercise their real code paths; the deep estimators read it the same way.

Expected failures live next to the estimator, each with its reason: ``_expected_failed_checks``
(a class attribute, or a property where it depends on the settings) for skquake's classes,
``expected_failed_checks=`` of ``register_model`` (``ModelSpec.expected_failed_checks``) for the
registered pipelines. They are strict: a listed check that passes fails the test.
"""
import inspect

import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

import skquake
from skquake import preprocessing
from skquake.models import create_model, get_model_spec, list_models
from skquake.utils import InvalidParameterError, all_estimators

# ----------------------------------------------------------------------------- settings
# The deep estimators, tiny: the checks' 2-D data is read as F channels of a 1 x 1 image, which
# only a patch-1 ViT takes (timm's test_vit, one block, width 16). The checks feed negative and
# standardised values (decibels=False) and standardised targets (no clamp). Prediction runs one
# sample per batch: batched float32 inference differs by a few ULPs with the batch's other
# samples, and the sample-order / subset checks compare at rtol=1e-7.
_DEEP_TINY = dict(
    backbone="test_vit", module__patch_size=1, module__depth=1, module__embed_dim=16, decibels=False,
    flips=False, max_epochs=5, lr=0.01, batch_size=16, random_state=0, iterator_valid__batch_size=1,
)

#: Class name -> list of constructor settings (small and fast), like scikit-learn's
#: instance generator. A class without an entry is built with its defaults.
INIT_PARAMS = {
    "ChannelSelector": [{}, {"dates": "post"}],
    "ChangeFeatures": [{}, {"non_bitemporal": "passthrough"}],
    "SpatialStatistics": [{}, {"quantiles": (), "moments": True}],
    "QuakeRegressor": [{**_DEEP_TINY, "clamp": None}],
    "QuakeClassifier": [_DEEP_TINY],
    # The fusion net without its metadata branch reads 2-D data as the deep ones do (a 1 x 1
    # image, same tiny ViT); the metadata branch needs named columns and is covered by
    # tests/models/test_damage.py.
    "DamageFusionClassifier": [dict(
        backbone="test_vit", backbone_kwargs=dict(patch_size=1, depth=1, embed_dim=16), use_metadata=False,
        metadata_columns=None, flips=False, max_epochs=2, lr=0.03, batch_size=16, random_state=0,
        predict_batch_size=1,
    )],
    # The patch-1 ViT reads the checks' 2-D data as C channels of a 1 x 1 image; one image per
    # batch keeps the sample-order checks exact (as for the deep nets above).
    "BackboneFeatures": [dict(
        backbone="test_vit", backbone_kwargs=dict(patch_size=1, depth=1, embed_dim=16), decibels=False,
        batch_size=1, random_state=0,
    )],
    # The checks' data has no metadata columns by name: select the last column.
    "MetadataSelector": [{"metadata_columns": ("m0",)}],
    # A linear inner model keeps the checks fast; both conformal methods are checked. The checks
    # fit on as few as 10 samples: a 50% interval needs only 2 calibration scores.
    "ConformalRegressor": [
        {"estimator": Ridge(), "confidence_level": 0.5, "cv": 0.5, "random_state": 0},
        {"estimator": Ridge(), "method": "cross", "cv": 3, "confidence_level": 0.5, "random_state": 0},
    ],
    "GroupCalibratedClassifierCV": [{"estimator": LogisticRegression(), "cv": 3}],
}

#: The backbone-feature pipelines' features step, as BackboneFeatures' INIT_PARAMS above.
_FEATURES_TINY = {f"features__{k}": v for k, v in INIT_PARAMS["BackboneFeatures"][0].items()}

#: Registry name -> ``create_model`` overrides (smaller forests, for speed).
REGISTERED_PARAMS = {
    "rfr-change": {"rf__n_estimators": 10},
    "rfc-change": {"rf__n_estimators": 10},
    "damage-meta-rf": {"metadata_columns": ("m0",), "n_estimators": 10, "random_state": 0},
    **{name: {**_FEATURES_TINY, **extra} for name, extra in (
        ("features-rf-det", {"rf__n_estimators": 10}), ("features-rf-mag", {"rf__n_estimators": 10}),
        ("features-ridge", {}), ("features-logreg", {}))},
}


# ----------------------------------------------------------------------------- discovery
def _discovered_instances():
    for name, cls in all_estimators():
        for params in INIT_PARAMS.get(name, [{}]):
            yield cls(**params)


def _registered_instances(classes):
    """(registry name, estimator) of every registered model not built from one of ``classes``."""
    for name in list_models():
        estimator = create_model(name, **REGISTERED_PARAMS.get(name, {}))
        if not isinstance(estimator, classes):
            yield name, estimator


CLASSES = tuple(cls for _, cls in all_estimators())
DISCOVERED = list(_discovered_instances())
REGISTERED = dict(_registered_instances(CLASSES))
ESTIMATORS = DISCOVERED + list(REGISTERED.values())


def _registry_name(estimator):
    return next((name for name, registered in REGISTERED.items() if registered is estimator), None)


def _expected_failed_checks(estimator):
    name = _registry_name(estimator)
    if name is not None:
        return dict(get_model_spec(name).expected_failed_checks)
    return dict(getattr(estimator, "_expected_failed_checks", {}))


def _ids(estimator):
    name = _registry_name(estimator)
    return name if name is not None else type(estimator).__name__


# ----------------------------------------------------------------------------- tests
def test_discovery_finds_the_exported_estimators():
    """The transformers of skquake.preprocessing and the estimators at the package's top level
    are discovered (so that they are checked); nothing from outside skquake is."""
    found = {cls for _, cls in all_estimators()}
    exported = [getattr(preprocessing, name) for name in preprocessing.__all__]
    exported += [getattr(skquake, name) for name in skquake.__all__]
    estimators = {obj for obj in exported if isinstance(obj, type) and issubclass(obj, BaseEstimator)}
    assert len(estimators) >= 11 and estimators <= found, sorted(c.__name__ for c in estimators - found)
    assert all(cls.__module__.startswith("skquake.") for cls in found)
    assert {cls for _, cls in all_estimators(type_filter="transformer")} >= {
        cls for cls in estimators if issubclass(cls, TransformerMixin)}
    for bad in ("nope", ["classifier", "nope"]):
        with pytest.raises(InvalidParameterError, match="'type_filter' parameter of all_estimators must be"):
            all_estimators(type_filter=bad)


def test_every_registered_model_is_checked():
    """Each registry entry is checked: as a pipeline here, or through its class."""
    for name in list_models():
        estimator = create_model(name)
        assert name in REGISTERED or isinstance(estimator, CLASSES), name


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks, xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _without_routed(estimator):
    # skorch's ``prefix__name`` arguments (module__depth, iterator_valid__batch_size) are routed
    # to the objects they configure, which validate them; the estimator's constraints cover its
    # own parameters.
    params = {k: v for k, v in estimator.get_params(deep=False).items() if "__" not in k}
    return type(estimator)(**params)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
def test_param_validation(estimator):
    """An invalid value of any parameter makes ``fit`` raise an InvalidParameterError naming it
    (scikit-learn's ``check_param_validation``: it also checks that ``_parameter_constraints``
    has exactly the estimator's parameters)."""
    check_param_validation(type(estimator).__name__, _without_routed(estimator))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids)
def test_parameter_constraints_cover_init(estimator):
    """``_parameter_constraints`` names every parameter of ``__init__`` (no parameter escapes
    validation by being left out)."""
    constraints = getattr(estimator, "_parameter_constraints", None)
    assert constraints is not None, f"{type(estimator).__name__} declares no _parameter_constraints"
    signature = inspect.signature(type(estimator).__init__)
    params = {p.name for p in signature.parameters.values()
              if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    missing = params - set(constraints)
    assert not missing, f"{type(estimator).__name__}: no constraint for {sorted(missing)}"
    clone(estimator)
