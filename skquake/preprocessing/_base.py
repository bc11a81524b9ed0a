"""The machinery every SAR transformer shares: input layouts, shape checks, feature names.

Every transformer here takes either

* a 4-D array ``(n, C, H, W)`` (channels first, as :func:`skquake.datasets.load_quakeset`
  returns), or
* a 2-D array ``(n, C*H*W)`` of flattened images together with ``input_shape=(C, H, W)``, or
* a 2-D array ``(n, F)`` **without** ``input_shape``: plain features, read as ``F`` channels of a
  1 x 1 image. Spatial operations are then no-ops and channel operations act on columns (a table of
  per-channel statistics works with :class:`ChannelSelector`). This is also how scikit-learn's
  estimator checks, which feed arbitrary 2-D data, see these transformers;
* a list of ``(C, H, W)`` images, or a dataset of them, the inputs the deep estimators take:
  a :class:`~skquake.datasets.QuakeSet` (or any dataset whose samples are dicts with an
  ``"image"``) or a :class:`~skquake.datasets.LazyImages` view of one. They are read into one
  ``(n, C, H, W)`` float32 array first (:func:`_as_images`): the whole split in memory, at full
  resolution, refused up front when it cannot fit. NaN (no-data) pixels are kept, as the
  transformers expect; a dataset's ``transform`` is applied. A pipeline still needs ``y``
  (``pipe.fit(ds, ds.magnitudes)``); the deep estimators read it from the dataset.

The output keeps the layout of the input: 4-D in, 4-D out; 2-D in, 2-D (flattened) out. Use
:class:`ToImages` once at the start of a pipeline to turn flattened input into 4-D, and
:class:`Flatten` at the end to hand features to a scikit-learn model.

Channel conventions (QuakeSet): bitemporal input has 4 channels ``[t0 VV, t0 VH, t1 VV, t1 VH]``;
single-image input has 2 channels ``[VV, VH]`` of the later acquisition.

``set_output(transform="pandas")`` and ``"polars"`` are honoured when the output is 2-D
(``get_feature_names_out`` names the columns; scikit-learn's own container adapters build the
DataFrame); a 4-D output cannot be a DataFrame and stays a numpy array.
"""
from __future__ import annotations

import math
from numbers import Real

import numpy as np
from sklearn.utils._set_output import _get_container_adapter
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_is_fitted,
    validate_data,
)

from ..utils import (
    StrictInterval,
    StrOptions,
    check_capacity,
    check_image_shape,
    fit_context,
    validate_parameter_constraints,
)

_FLOAT_DTYPES = (np.float64, np.float32)
BITEMPORAL_CHANNELS = ("t0_VV", "t0_VH", "t1_VV", "t1_VH")
SINGLE_CHANNELS = ("VV", "VH")
POLARIZATIONS = ("VV", "VH")

#: A finite real number (not a bool): fill values.
FINITE = StrictInterval(Real, None, None, closed="neither")
#: A real number > 0 (not a bool), infinity included as before: the ``eps`` of logarithms.
POSITIVE = StrictInterval(Real, 0, None, closed="right")


def _as_images(X):
    """A dataset of images or a list of images as one ``(n, C, H, W)`` array; other X as is.

    Duck-typed like the deep estimators' check (``skquake.datasets.LazyImages`` imports torch,
    which this layer does not): a ``LazyImages`` view is a dataset with ``indices_`` and
    ``idx`` (skorch's SliceDataset); a dataset has ``image_shape`` and dict samples.
    """
    if all(hasattr(X, a) for a in ("dataset", "indices_", "idx")):
        # Read through the view's dataset: the view refuses NaN, which is no-data here.
        dataset, indices, key = X.dataset, np.asarray(X.indices_), X.idx
    elif all(hasattr(X, a) for a in ("image_shape", "__getitem__", "__len__")) and not hasattr(X, "ndim"):
        dataset, indices, key = X, np.arange(len(X)), "image"
    elif isinstance(X, (list, tuple)) and len(X) and np.ndim(X[0]) >= 2:
        shapes = list(dict.fromkeys(np.shape(x) for x in X))
        if len(shapes) > 1:
            raise ValueError(f"X is a list of images of different shapes ({', '.join(map(str, shapes[:3]))}"
                             f"{', ...' if len(shapes) > 3 else ''}); every image must have the same (C, H, W)")
        return np.asarray(X)
    else:
        return X
    shape = tuple(int(s) for s in dataset.image_shape)
    check_capacity(f"reading {len(indices)} images of shape {shape} of {type(dataset).__name__} into memory",
                   memory=len(indices) * math.prod(shape) * 4,
                   hint="read a pooled split with skquake.datasets.load_quakeset(path, pool=...)")
    out = None
    for row, i in enumerate(indices):
        image = np.asarray(dataset[int(i)][key], dtype=np.float32)
        if out is None:  # the shape after the dataset's transform, if it has one
            out = np.empty((len(indices),) + image.shape, dtype=np.float32)
        out[row] = image
    return out if out is not None else np.empty((0,) + shape, dtype=np.float32)


def _pixel_names(channels, h, w):
    return np.asarray([f"{c}_y{y}_x{x}" for c in channels for y in range(h) for x in range(w)], dtype=object)


class _ImageTransformer(TransformerMixin, BaseEstimator):
    """Shared input handling: layout, shape checks, feature names, 2-D ``set_output``.

    Subclasses declare ``_parameter_constraints`` (validated at the start of ``fit``) and
    implement ``_output_shape(shape)`` (raising ``ValueError`` for an input shape they cannot
    take) and ``_transform_images(X4)``; ``_feature_index`` or ``_new_feature_names`` say how
    output features relate to input features. ``_check_params()`` is for what a constraint
    cannot say (the contents of a tuple, rules across parameters).

    ``_expected_failed_checks`` maps the scikit-learn estimator checks an instance cannot pass
    to the reason (read by the common tests); empty here.
    """

    # ``input_shape`` is an array-like here; check_image_shape looks inside it (a constraint
    # checks a value's type, not the contents of a tuple).
    _parameter_constraints: dict = {"input_shape": [None, "array-like"]}

    _expected_failed_checks: dict = {}

    # Output wrapping is done here, not by scikit-learn's automatic wrapper, because a 4-D
    # output cannot become a DataFrame.
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(auto_wrap_output_keys=None, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ------------------------------------------------------------------ hooks
    def _check_params(self):
        pass

    def _output_shape(self, shape):
        return shape

    def _transform_images(self, X):
        return X

    def _feature_index(self):
        """Index of the input feature each output feature copies, or None if features are new."""
        return np.arange(self.n_features_in_)

    def _new_feature_names(self):
        c, h, w = self.output_shape_
        return _pixel_names([f"c{i}" for i in range(c)], h, w)

    # ------------------------------------------------------------------ validation
    def _validate_images(self, X, reset):
        name = type(self).__name__
        X = _as_images(X)
        input_shape = check_image_shape(self.input_shape, owner=name)
        if getattr(X, "ndim", 2) > 2:
            X = check_array(X, allow_nd=True, dtype=_FLOAT_DTYPES, ensure_all_finite="allow-nan")
            if X.ndim != 4:
                raise ValueError(
                    f"{name}: expected images of shape (n, C, H, W) or flattened (n, C*H*W), "
                    f"got an array of shape {X.shape}"
                )
            shape = X.shape[1:]
            if input_shape is not None and shape != input_shape:
                raise ValueError(
                    f"{name}: input_shape={input_shape} was declared, but X holds images of shape "
                    f"{shape} (X.shape={X.shape})"
                )
            if reset and hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            X = validate_data(self, X, reset=reset, dtype=_FLOAT_DTYPES, ensure_all_finite="allow-nan")
            n_features = X.shape[1]
            if input_shape is None:
                shape = (n_features, 1, 1)
            else:
                if math.prod(input_shape) != n_features:
                    raise ValueError(
                        f"{name}: input_shape={input_shape} means {math.prod(input_shape)} features per "
                        f"sample (C*H*W), but X has shape {X.shape}"
                    )
                shape = input_shape
        if reset:
            self.output_shape_ = self._output_shape(shape)
            self.input_shape_ = shape
            self.n_features_in_ = math.prod(shape)
        elif shape != self.input_shape_:
            raise ValueError(
                f"{name}: X holds images of shape {shape} (X.shape={X.shape}), but this transformer "
                f"was fitted on images of shape {self.input_shape_}"
            )
        return X.reshape((X.shape[0],) + shape), X.ndim == 2

    # ------------------------------------------------------------------ API
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and record the input shape (nothing is learned from the data).

        Parameters
        ----------
        X : array-like of shape (n, C, H, W), or (n, C*H*W) with ``input_shape`` set; or a
            list of images, a QuakeSet or a LazyImages (read into memory, see the module)
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        self._validate_images(X, reset=True)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """``fit(X, y).transform(X)``, reading a dataset ``X`` once (not once per call).

        Parameters
        ----------
        X : array-like, list of images or dataset (see the module)
        y : ignored
        **fit_params
            Passed to ``fit``.

        Returns
        -------
        ndarray or DataFrame, as :meth:`transform`
        """
        return super().fit_transform(_as_images(X), y, **fit_params)

    def transform(self, X):
        """Transform ``X``; the output has the layout of the input (4-D or flattened 2-D).

        Parameters
        ----------
        X : array-like of shape (n, C, H, W), or (n, C*H*W) with ``input_shape`` set; or a
            list of images, a QuakeSet or a LazyImages (read into memory, see the module)

        Returns
        -------
        ndarray of shape (n, C', H', W'), or (n, C'*H'*W') (a DataFrame under
        ``set_output(transform="pandas")`` or ``"polars"``)
        """
        check_is_fitted(self)
        X4, was_2d = self._validate_images(X, reset=False)
        Xt = self._transform_images(X4)
        if was_2d or Xt.ndim == 2:
            Xt = Xt.reshape(Xt.shape[0], -1)
            return self._wrap_2d(Xt, X)
        return Xt

    def get_feature_names_out(self, input_features=None):
        """Names of the output features, in the order of the flattened output.

        Output features that copy an input feature keep its name (``x0``, ``x1``, ... or the
        DataFrame's columns); computed ones are named ``<channel>_y<row>_x<col>``.
        """
        check_is_fitted(self, "n_features_in_")
        input_features = _check_feature_names_in(self, input_features)
        index = self._feature_index()
        if index is None:
            return self._new_feature_names()
        return np.asarray(input_features, dtype=object)[index]

    def set_output(self, *, transform=None):
        """Choose the container of 2-D outputs: ``"default"`` (numpy), ``"pandas"`` or ``"polars"``.

        4-D outputs always stay numpy arrays. ``None`` leaves the setting unchanged.
        """
        validate_parameter_constraints(
            {"transform": [None, StrOptions({"default", "pandas", "polars"})]},
            {"transform": transform},
            caller_name=f"{type(self).__name__}.set_output",
        )
        if transform is None:
            return self
        self._sklearn_output_config = {"transform": transform}
        return self

    def _wrap_2d(self, Xt, X):
        # scikit-learn's adapter of the configured container (this estimator's set_output, else
        # the global transform_output): None for numpy; pandas / polars are imported by it.
        adapter = _get_container_adapter("transform", self)
        if adapter is None:
            return Xt
        return adapter.create_container(Xt, X, columns=self.get_feature_names_out)
