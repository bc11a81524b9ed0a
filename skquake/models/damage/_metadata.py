"""The metadata-only damage model: keep the metadata of the layout, impute, random forest.

Torch-free: scikit-learn only.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data

from ...datasets import DEFAULT_METADATA_COLUMNS
from ...utils import check_image_shape, fit_context
from ._layout import _LayoutMixin

__all__ = ["MetadataSelector", "make_metadata_forest"]


class MetadataSelector(_LayoutMixin, TransformerMixin, BaseEstimator):
    """Keep the metadata columns of the damage layout (the last ``M`` columns).

    Accepts the same inputs as :class:`DamageFusionClassifier`; a named table is checked
    against ``metadata_columns`` (missing / unexpected columns are named in the error).

    Parameters
    ----------
    metadata_columns : sequence of str, default=DEFAULT_METADATA_COLUMNS
    input_shape : tuple (C, H, W), optional
        When given, the width of a 2-D ``X`` must be ``C*H*W + M``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.1, 0.2, 5.0, 7.0], [0.3, 0.4, np.nan, 8.0]])
    >>> MetadataSelector(metadata_columns=("pga", "vs30")).fit_transform(X)
    array([[ 5.,  7.],
           [nan,  8.]])
    """

    _parameter_constraints = {
        "metadata_columns": ["array-like"],
        # the contents of the tuple are checked by check_image_shape
        "input_shape": [None, "array-like"],
    }

    def __init__(self, metadata_columns=DEFAULT_METADATA_COLUMNS, input_shape=None):
        self.metadata_columns = metadata_columns
        self.input_shape = input_shape

    def _select(self, X, reset):
        columns = self._columns()
        if not columns:
            raise ValueError("MetadataSelector needs metadata_columns")
        m = len(columns)
        X = self._as_layout(X)
        shape = getattr(X, "shape", None)
        if not reset and shape is not None and len(shape) == 2 and shape[1] != self.n_features_in_:
            self._width_error(shape[1], self.n_features_in_)
        X = validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype=np.float64)
        input_shape = check_image_shape(self.input_shape, owner=type(self).__name__)
        expected = None if input_shape is None else int(np.prod(input_shape)) + m
        if X.shape[1] < m or (expected is not None and X.shape[1] != expected):
            self._width_error(X.shape[1], expected)
        return X[:, -m:]

    def _width_error(self, width, expected):
        columns = self._columns()
        need = f"{expected}" if expected is not None else f"at least {len(columns)}"
        raise ValueError(f"X has {width} features, but {type(self).__name__} is expecting {need} features "
                         f"as input (image values followed by the {len(columns)} metadata columns {list(columns)})")

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X`` and remember its width (``n_features_in_``).

        Parameters
        ----------
        X : array-like of shape (n_samples, C*H*W + M), dict or DamageDataset
        y : ignored

        Returns
        -------
        self
        """
        self._select(X, reset=True)
        return self

    def transform(self, X):
        """The metadata columns of ``X``, shape (n_samples, M), NaN where missing."""
        check_is_fitted(self, "n_features_in_")
        return self._select(X, reset=False)

    def get_feature_names_out(self, input_features=None):
        """The names of the metadata columns."""
        return np.asarray(self._columns(), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def make_metadata_forest(metadata_columns=DEFAULT_METADATA_COLUMNS, input_shape=None, n_estimators=300,
                         max_depth=None, min_samples_leaf=2, class_weight="balanced", random_state=None,
                         n_jobs=None):
    """Metadata-only random forest: select the metadata, impute, ``RandomForestClassifier``.

    The earlier state of the art the paper compares with (a forest on ground-motion and SAR
    metadata). Missing values are imputed by the training median and flagged with indicator
    columns, so a column missing at prediction time is handled like a missing training value.
    The arguments are the steps' own and are validated by them at ``fit``.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``select`` (:class:`MetadataSelector`), ``impute`` (``SimpleImputer``) and ``rf``;
        tune with ``rf__n_estimators`` etc.
    """
    return Pipeline([
        ("select", MetadataSelector(metadata_columns=metadata_columns, input_shape=input_shape)),
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ("rf", RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                      min_samples_leaf=min_samples_leaf, class_weight=class_weight,
                                      random_state=random_state, n_jobs=n_jobs)),
    ])
