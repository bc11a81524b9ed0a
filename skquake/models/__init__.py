"""The model registry and the models, one subpackage per family.

``list_models`` / ``create_model`` / ``get_search_space`` read the registry; the families
(:mod:`skquake.models.shallow`, :mod:`skquake.models.deep`, :mod:`skquake.models.damage`)
register their entries when imported, which the registry does on its first query.
``save_model`` / ``load_model`` write and read the ``.skq`` saved-model format. This
``__init__`` imports no family, so ``import skquake.models`` does not import torch.
"""
from ._persistence import ModelFileError, ModelVersionWarning, load_model, read_manifest, save_model
from ._registry import (
    TASKS,
    Categorical,
    FloatRange,
    IntRange,
    ModelSpec,
    create_model,
    get_model_spec,
    get_search_space,
    list_models,
    register_model,
)

__all__ = [
    "TASKS",
    "Categorical",
    "FloatRange",
    "IntRange",
    "ModelFileError",
    "ModelSpec",
    "ModelVersionWarning",
    "create_model",
    "get_model_spec",
    "get_search_space",
    "list_models",
    "load_model",
    "read_manifest",
    "register_model",
    "save_model",
]
