"""Tuning: search objects for registered models and resumable Optuna studies."""
from ._tuning import (
    DEFAULT_STORAGE_FILE,
    StorageError,
    best_estimator,
    check_params,
    default_scoring,
    default_storage_url,
    main,
    make_search_cv,
    mask_url,
    open_storage,
    study_summary,
    tune,
)

__all__ = [
    "DEFAULT_STORAGE_FILE",
    "StorageError",
    "best_estimator",
    "check_params",
    "default_scoring",
    "default_storage_url",
    "main",
    "make_search_cv",
    "mask_url",
    "open_storage",
    "study_summary",
    "tune",
]
