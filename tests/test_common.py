"""scikit-learn's estimator checks over every public skquake estimator.

The checks feed 2-D data with arbitrary numbers of features. skquake's image transformers read
2-D input without ``input_shape`` as plain features (``F`` channels of a 1 x 1 image), so the
checks exercise their real code paths; the registered pipelines are checked the same way.

To add an estimator: append an instance to ``ESTIMATORS`` (small, fast configuration) and, only
for checks that cannot apply to it, an entry ``{check_name: reason}`` in ``EXPECTED_FAILURES``
under ``_key(estimator)``: the class name, or ``Pipeline(<first step class>..<last step class>)``. Failures
are strict: a listed check that passes fails the test, so the list stays honest.
"""
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skquake.preprocessing import (
    AveragePooling,
    ChangeFeatures,
    ChannelSelector,
    Decibels,
    Flatten,
    NaNFiller,
    SpatialStatistics,
    ToImages,
)
from skquake.models import create_model
from skquake.models.deep import QuakeClassifier, QuakeRegressor  # noqa: E402

# ----------------------------------------------------------------------------- estimators
ESTIMATORS = [
    ToImages(),
    Flatten(),
    NaNFiller(),
    Decibels(),
    AveragePooling(),
    ChannelSelector(),
    ChannelSelector(dates="post"),
    ChangeFeatures(),
    ChangeFeatures(non_bitemporal="passthrough"),
    SpatialStatistics(),
    SpatialStatistics(quantiles=(), moments=True),
]
# The registered shallow pipelines, as the registry builds them (the forests of the change
# models smaller, for speed). _key names them by their registry name.
_REGISTERED = {
    name: create_model(name, **kw) for name, kw in (
        ("svr-rbf", {}), ("svr-poly", {}), ("rfr", {}), ("svc-rbf", {}), ("svc-poly", {}), ("rfc", {}),
        ("rfr-change", {"rf__n_estimators": 10}), ("rfc-change", {"rf__n_estimators": 10}),
    )
}
ESTIMATORS += list(_REGISTERED.values())
# The deep estimators, tiny: the checks' 2-D data is read as F channels of a 1 x 1 image, which
# only a patch-1 ViT takes (timm's test_vit, one block, width 16). The checks feed negative and
# standardised values (decibels=False) and standardised targets (no clamp). Prediction runs one
# sample per batch: batched float32 inference differs by a few ULPs with the batch's other
# samples, and the sample-order / subset checks compare at rtol=1e-7.
_DEEP_TINY = dict(
    backbone="test_vit", module__patch_size=1, module__depth=1, module__embed_dim=16, decibels=False,
    flips=False, max_epochs=5, lr=0.01, batch_size=16, random_state=0, iterator_valid__batch_size=1,
)
ESTIMATORS += [QuakeRegressor(clamp=None, **_DEEP_TINY), QuakeClassifier(**_DEEP_TINY)]
# The damage models. The fusion net without its metadata branch (damage-image) reads 2-D data
# as the deep ones do (a 1 x 1 image, same tiny ViT); the metadata branch needs named columns
# and is covered by tests/test_damage.py. The metadata forest selects the last column here.
from skquake.models.damage import DamageFusionClassifier, MetadataSelector, make_metadata_forest  # noqa: E402

ESTIMATORS += [
    DamageFusionClassifier(
        backbone="test_vit", backbone_kwargs=dict(patch_size=1, depth=1, embed_dim=16), use_metadata=False,
        metadata_columns=None, flips=False, max_epochs=2, lr=0.03, batch_size=16, random_state=0,
        predict_batch_size=1,
    ),
    MetadataSelector(metadata_columns=("m0",)),
    make_metadata_forest(metadata_columns=("m0",), n_estimators=10, random_state=0),
]

# ----------------------------------------------------------------------------- expected failures
# Checks whose data cannot carry what the estimator needs, or that test something a
# scikit-learn Pipeline does by design. Keyed by ``_key(estimator)``.
_NO_CHANNELS = (
    "needs 4 (bitemporal) or 2 (single-image) channels; the check's data has another number "
    "of features, which 2-D input without input_shape reads as channels"
)
_CHANNEL_CHECKS = [
    "check_fit_score_takes_y",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_estimators_dtypes",
    "check_dtype_object",
    "check_pipeline_consistency",
    "check_estimators_pickle",
    "check_estimators_pickle(readonly_memmap=True)",
    "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
    "check_transformer_general(readonly_memmap=True)",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_fit2d_1sample",
    "check_fit2d_1feature",
    "check_dict_unchanged",
    "check_fit2d_predict1d",
]
_PIPELINE = {
    # sklearn's own make_pipeline(StandardScaler(), SVR()) fails these two: a Pipeline fits
    # the estimators in its `steps` parameter in place.
    "check_estimators_overwrite_params": "Pipeline fits the estimators of its steps parameter in place",
    "check_dont_overwrite_parameters": "Pipeline fits the estimators of its steps parameter in place",
    "check_estimators_nan_inf": (
        "NaN is no-data in SAR images and the pipeline fills it by design (NaNFiller); "
        "Pipeline does not take allow_nan from its first step"
    ),
}
# These three feed 4 features, which ChannelSelector takes as 4 channels (and passes).
_FOUR_FEATURE_CHECKS = [
    "check_estimators_overwrite_params",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
]
EXPECTED_FAILURES = {
    "ChannelSelector": {c: _NO_CHANNELS for c in _CHANNEL_CHECKS if c not in _FOUR_FEATURE_CHECKS},
    "ChangeFeatures": dict.fromkeys(
        _CHANNEL_CHECKS + ["check_fit_idempotent", "check_fit_check_is_fitted", "check_n_features_in"],
        "needs bitemporal 4-channel input; " + _NO_CHANNELS,
    ),
    **{name: _PIPELINE for name in ("svr-rbf", "svr-poly", "rfr", "svc-rbf", "svc-poly", "rfc")},
    **{
        name: {
            **{c: r for c, r in _PIPELINE.items() if c != "check_estimators_nan_inf"},
            "check_estimators_nan_inf": (
                "NaN is no-data in SAR images: SpatialStatistics ignores it by design (infinity is "
                "refused by the forest); Pipeline does not take allow_nan from its first step"
            ),
        }
        for name in ("rfr-change", "rfc-change")
    },
    "Pipeline(MetadataSelector..RandomForestClassifier)": {
        **{c: r for c, r in _PIPELINE.items() if c != "check_estimators_nan_inf"},
        "check_estimators_nan_inf": (
            "missing metadata is imputed by design (SimpleImputer); Pipeline does not take allow_nan "
            "from its first step"
        ),
    },
}

_SKORCH = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets history_, initialized_, virtual_params_ and stores "
        "prefixed arguments (module__*, iterator_valid__*) as attributes"
    ),
    "check_do_not_raise_errors_in_init_or_set_params": (
        "skorch's set_params(callbacks=...) rebuilds the callbacks at once, so a non-list value fails there"
    ),
}
EXPECTED_FAILURES.update({"QuakeRegressor": _SKORCH, "QuakeClassifier": _SKORCH})


def _key(estimator):
    for name, registered in _REGISTERED.items():
        if estimator is registered:
            return name
    if isinstance(estimator, Pipeline):
        first, last = estimator.steps[0][1], estimator.steps[-1][1]
        return f"Pipeline({type(first).__name__}..{type(last).__name__})"
    return type(estimator).__name__


def _expected_failed_checks(estimator):
    failures = EXPECTED_FAILURES.get(_key(estimator), {})
    if isinstance(estimator, ChannelSelector) and estimator.get_params()["dates"] == "both" == estimator.get_params()["polarizations"]:
        return {}  # the identity selection takes any number of channels
    if isinstance(estimator, ChangeFeatures) and estimator.get_params()["non_bitemporal"] == "passthrough":
        return {}  # passes input without 4 channels through, whatever its channel count
    return failures


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks, xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)
