"""The damage models' inputs: the accepted forms turned into the 2-D layout (torch-free)."""
from __future__ import annotations

from collections.abc import Mapping

from ...datasets import DamageDataset, to_layout


class _LayoutMixin:
    """Turns the accepted inputs into the 2-D layout ``[image | metadata]`` (damage estimators).

    A 2-D array passes through; a dict ``{"image", "metadata"}``, a :class:`DamageDataset` or a
    4-D image array (no metadata) become the layout, a named metadata table being checked
    against ``metadata_columns``.
    """

    def _as_layout(self, X):
        """dict / DamageDataset / 4-D images -> 2-D layout; 2-D arrays pass through."""
        columns = self._columns()
        if isinstance(X, DamageDataset):
            self._check_dataset_columns(X.metadata_columns)
            return to_layout(X.read_images(), X.metadata, columns)
        if isinstance(X, Mapping):
            if "image" not in X:
                raise ValueError(f"a dict input needs an 'image' entry (and optionally 'metadata'), got keys {list(X)}")
            return to_layout(X["image"], X.get("metadata"), columns)
        if hasattr(X, "ndim") and X.ndim == 4:
            return to_layout(X, None, columns)
        return X

    def _columns(self):
        if self.metadata_columns is None:
            return ()
        if isinstance(self.metadata_columns, str):
            raise ValueError("metadata_columns must be a sequence of column names, not a string")
        return tuple(str(c) for c in self.metadata_columns)

    def _check_dataset_columns(self, file_columns):
        columns = self._columns()
        missing = [c for c in columns if c not in file_columns]
        extra = [c for c in file_columns if c not in columns]
        if missing or extra:
            raise ValueError(
                f"the dataset's metadata columns do not match metadata_columns: missing {missing}, "
                f"unexpected {extra}")
