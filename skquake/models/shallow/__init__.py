"""Shallow models: the QuakeSet paper's PCA + SVM / random-forest pipelines and the
change-statistics forests, registered in the model registry."""
from ._pipelines import DEFAULT_MAX_SIZE, make_change_statistics_pipeline, make_shallow_pipeline

__all__ = ["DEFAULT_MAX_SIZE", "make_change_statistics_pipeline", "make_shallow_pipeline"]
