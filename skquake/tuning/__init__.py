"""Hyperparameter search for registered models: ``GridSearchCV``, ``OptunaSearchCV`` and studies.

Three ways in, all with ``GroupKFold`` by event (patches of one earthquake never sit on both
sides of a split) and a scorer from :func:`skquake.metrics.get_scorer`:

* :func:`make_search_cv` builds a scikit-learn ``GridSearchCV`` or Optuna's ``OptunaSearchCV``
  for a registered model, with the model's registry search space;
* :func:`tune` runs (or resumes) an Optuna study stored in an RDB (SQLite by default,
  PostgreSQL to share it between workers on many machines); deep nets report their
  validation score every epoch so that the pruner can stop unpromising trials;
* ``skquake tune MODEL --data PATH ...`` is :func:`tune` from the shell (:func:`main`).

Storage URLs may carry passwords: they are parsed as SQLAlchemy does, shown masked, and every
storage is used inside one guard that scrubs the password from every exception, log record,
warning and background-thread traceback (``_secrets``).

The modules, one concern each: ``_secrets`` (URLs, masking, scrubbing), ``_storage`` (which URL
a storage argument means, opening a storage), ``_search`` (scorers, spaces, fixed parameters,
``*SearchCV``), ``_data`` (what a study reads), ``_setup`` (what a study records, checked
before anything is stored), ``_objective`` and ``_pruning`` (one trial; the skorch side is
imported only when a trial runs, so importing this package does not import torch), ``_study``
(create, resume, fail dead workers' trials), ``_tune`` (the study loop, the first trial run
before a study is recorded, the best estimator) and ``_cli`` (``skquake tune``).
"""
from ._cli import main
from ._search import check_params, default_scoring, make_search_cv
from ._storage import (
    DEFAULT_STORAGE_FILE,
    STORAGE_ENV,
    StorageError,
    default_storage_url,
    describe_storage,
    mask_url,
    open_storage,
)
from ._study import study_summary
from ._tune import best_estimator, tune

__all__ = [
    "DEFAULT_STORAGE_FILE",
    "STORAGE_ENV",
    "StorageError",
    "best_estimator",
    "check_params",
    "default_scoring",
    "default_storage_url",
    "describe_storage",
    "main",
    "make_search_cv",
    "mask_url",
    "open_storage",
    "study_summary",
    "tune",
]
