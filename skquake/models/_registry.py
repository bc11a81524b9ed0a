"""A registry of named models, in the manner of timm's ``list_models`` / ``create_model``.

Every model that skquake ships (shallow pipelines, deep nets, damage classifiers) is one
:class:`ModelSpec` entry here. The benchmark runner, the tuning grids and the docs all read
from this registry, so adding a model is one ``@register_model`` in the module that
defines it.

The registry itself holds no models: the modules that define estimators register them when
they are imported, and :func:`_ensure_builtin_models` imports those modules the first time
the registry is queried, so ``import skquake.models`` stays cheap.
"""
from __future__ import annotations

import collections.abc
import difflib
import fnmatch
import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from ..utils import StrOptions, validate_params

__all__ = [
    "Categorical",
    "FloatRange",
    "IntRange",
    "FAMILIES",
    "ModelSpec",
    "PIPELINE_EXPECTED_FAILED_CHECKS",
    "TASKS",
    "create_model",
    "get_model_spec",
    "get_search_space",
    "list_models",
    "register_model",
]

#: Known task kinds. ``detection``, ``magnitude`` and ``epicentre`` are QuakeSet tasks (each can
#: be run on bitemporal or single-image input); ``change`` is unsupervised per-pixel change
#: detection on bitemporal pairs (QuakeSet task 4); ``damage`` is building-damage classification.
TASKS = ("detection", "magnitude", "change", "epicentre", "damage")
#: Model families: scikit-learn only, or torch.
FAMILIES = ("shallow", "deep")

#: Modules whose import registers the built-in models. Listed here (not discovered) so that
#: the order of ``list_models()`` is stable and a broken optional module fails loudly.
_BUILTIN_MODULES = (
    "skquake.models.shallow",
    "skquake.models.deep",
    "skquake.models.change",
    "skquake.models.epicentre",
    "skquake.models.damage",
)

#: scikit-learn estimator checks that every :class:`~sklearn.pipeline.Pipeline` fails, with the
#: reason; a registered pipeline passes them (plus its own) as ``expected_failed_checks``.
#: scikit-learn's own ``make_pipeline(StandardScaler(), SVR())`` fails these two.
PIPELINE_EXPECTED_FAILED_CHECKS = {
    "check_estimators_overwrite_params": "Pipeline fits the estimators of its steps parameter in place",
    "check_dont_overwrite_parameters": "Pipeline fits the estimators of its steps parameter in place",
}

_REGISTRY: dict[str, "ModelSpec"] = {}
_builtins_loaded = False


# --------------------------------------------------------------------------- search spaces
@dataclass(frozen=True)
class Categorical:
    """A parameter that takes one of a fixed set of values (grid and Optuna alike)."""

    choices: tuple

    def __init__(self, choices: Sequence[Any]):
        choices = tuple(choices)
        if not choices:
            raise ValueError("Categorical needs at least one choice")
        object.__setattr__(self, "choices", choices)

    def grid(self) -> list:
        return list(self.choices)

    def to_optuna(self):
        return CategoricalDistribution(list(self.choices))


@dataclass(frozen=True)
class FloatRange:
    """A continuous parameter in ``[low, high]``.

    ``grid`` gives the values used by ``GridSearchCV``; when omitted, ``n_grid`` points are
    spaced geometrically (``log=True``) or linearly between the bounds.
    """

    low: float
    high: float
    log: bool = False
    grid_values: tuple | None = None
    n_grid: int = 3

    def __post_init__(self):
        if not self.low < self.high:
            raise ValueError(f"FloatRange needs low < high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"FloatRange(log=True) needs low > 0, got low={self.low}")

    def grid(self) -> list:
        if self.grid_values is not None:
            return list(self.grid_values)
        if self.n_grid == 1:
            return [math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2]
        if self.log:
            a, b = math.log(self.low), math.log(self.high)
            return [float(math.exp(a + (b - a) * i / (self.n_grid - 1))) for i in range(self.n_grid)]
        return [self.low + (self.high - self.low) * i / (self.n_grid - 1) for i in range(self.n_grid)]

    def to_optuna(self):
        return FloatDistribution(self.low, self.high, log=self.log)


@dataclass(frozen=True)
class IntRange:
    """An integer parameter in ``[low, high]`` (bounds included)."""

    low: int
    high: int
    log: bool = False
    grid_values: tuple | None = None
    n_grid: int = 3

    def __post_init__(self):
        if not self.low < self.high:
            raise ValueError(f"IntRange needs low < high, got low={self.low}, high={self.high}")

    def grid(self) -> list:
        if self.grid_values is not None:
            return list(self.grid_values)
        vals = FloatRange(self.low, self.high, log=self.log, n_grid=self.n_grid).grid()
        return sorted({int(round(v)) for v in vals})

    def to_optuna(self):
        return IntDistribution(self.low, self.high, log=self.log)


# --------------------------------------------------------------------------- the registry
@dataclass(frozen=True)
class ModelSpec:
    """One registered model.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"svr-rbf"`` or ``"mobilenetv2-rank"``.
    factory : callable
        Called with keyword overrides, returns an unfitted scikit-learn estimator.
    task : {"detection", "magnitude", "damage"}
        What the model predicts: detection labels, magnitudes, or damage classes.
    family : {"shallow", "deep"}
        Shallow (scikit-learn only) or deep (torch) model.
    description : str
        One line for tables and docs.
    paper_name : str or None
        The row name in the paper this entry reproduces, if any.
    search_space : mapping
        Parameter name (routable through ``set_params``) to :class:`Categorical`,
        :class:`FloatRange` or :class:`IntRange`.
    tags : tuple of str
        Free-form labels (``"ranking"``, ``"paper"``, ...), used for selection.
    expected_failed_checks : mapping
        scikit-learn estimator checks the built estimator cannot pass, each with its reason
        (read by the common tests, as ``expected_failed_checks`` of
        :func:`~sklearn.utils.estimator_checks.parametrize_with_checks`). For estimators of
        skquake's own classes the class says it (``_expected_failed_checks``); this is for
        composites such as pipelines.
    """

    name: str
    factory: Callable[..., Any]
    task: str
    family: str
    description: str = ""
    paper_name: str | None = None
    search_space: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple = ()
    expected_failed_checks: Mapping[str, str] = field(default_factory=dict)

    def create(self, **overrides):
        return self.factory(**overrides)


@validate_params(
    {
        "name": [str],
        "task": [StrOptions(set(TASKS))],
        "family": [StrOptions(set(FAMILIES))],
        "description": [str],
        "paper_name": [None, str],
        "search_space": [None, collections.abc.Mapping],
        "tags": [list, tuple],
        "expected_failed_checks": [None, collections.abc.Mapping],
    },
    prefer_skip_nested_validation=True,
)
def register_model(
    name: str,
    *,
    task: str,
    family: str,
    description: str = "",
    paper_name: str | None = None,
    search_space: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    expected_failed_checks: Mapping[str, str] | None = None,
):
    """Decorator that registers a factory under ``name``.

    The factory takes keyword overrides and returns an unfitted estimator. Registering the
    same name twice is an error (it would silently change what benchmarks run).

    Parameters
    ----------
    name : str
        Registry name.
    task : {"detection", "magnitude", "damage"}
    family : {"shallow", "deep"}
    description : str, default=""
        One line for tables and docs.
    paper_name : str, optional
        The row name in the paper this entry reproduces.
    search_space : mapping, optional
        Parameter name to :class:`Categorical`, :class:`FloatRange` or :class:`IntRange`.
    tags : sequence of str, default=()
        Free-form labels, used for selection.
    expected_failed_checks : mapping, optional
        ``{check name: reason}``: scikit-learn estimator checks the built estimator cannot
        pass (see :attr:`ModelSpec.expected_failed_checks`).

    Examples
    --------
    Not run here: it would register the model for the rest of the session.

    >>> from sklearn.dummy import DummyRegressor
    >>> from skquake.models import create_model, register_model
    >>> @register_model("dummy-mean", task="magnitude", family="shallow",
    ...                 description="the training mean")  # doctest: +SKIP
    ... def dummy_mean(**overrides):
    ...     return DummyRegressor().set_params(**overrides)
    >>> create_model("dummy-mean", strategy="median")  # doctest: +SKIP
    DummyRegressor(strategy='median')
    """

    def decorator(factory):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = ModelSpec(
            name=name,
            factory=factory,
            task=task,
            family=family,
            description=description,
            paper_name=paper_name,
            search_space=dict(search_space or {}),
            tags=tuple(tags),
            expected_failed_checks=dict(expected_failed_checks or {}),
        )
        return factory

    return decorator


def _ensure_builtin_models() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


@validate_params(
    {
        "pattern": [None, str],
        "task": [None, StrOptions(set(TASKS))],
        "family": [None, StrOptions(set(FAMILIES))],
        "tags": [list, tuple, set, frozenset],
    },
    prefer_skip_nested_validation=True,
)
def list_models(
    pattern: str | None = None,
    *,
    task: str | None = None,
    family: str | None = None,
    tags: Sequence[str] = (),
) -> list[str]:
    """Names of registered models, in registration order.

    Parameters
    ----------
    pattern : str, optional
        Shell-style wildcard on the name (``"svr-*"``).
    task : {"detection", "magnitude", "damage"}, optional
        Keep only models of this task (another value raises ``InvalidParameterError``, not an
        empty list).
    family : {"shallow", "deep"}, optional
        Keep only models of this family.
    tags : list, tuple or set of str, default=()
        Keep only models that carry all these tags (a single tag is ``("paper",)``).

    Examples
    --------
    >>> from skquake.models import list_models
    >>> list_models("svr-*")
    ['svr-rbf', 'svr-poly']
    >>> list_models(task="detection", family="shallow", tags=("paper",))
    ['svc-rbf', 'svc-poly', 'rfc']
    """
    _ensure_builtin_models()
    out = []
    for name, spec in _REGISTRY.items():
        if pattern is not None and not fnmatch.fnmatch(name, pattern):
            continue
        if task is not None and spec.task != task:
            continue
        if family is not None and spec.family != family:
            continue
        if not set(tags) <= set(spec.tags):
            continue
        out.append(name)
    return out


@validate_params({"name": [str]}, prefer_skip_nested_validation=True)
def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered under ``name`` (``KeyError`` naming close matches)."""
    _ensure_builtin_models()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(
            f"unknown model {name!r}{hint} (skquake.list_models() lists the {len(_REGISTRY)} registered names)"
        ) from None


@validate_params({"name": [str]}, prefer_skip_nested_validation=True)
def create_model(name: str, **overrides):
    """Build the unfitted estimator registered under ``name``.

    Keyword overrides are passed to the model's factory (for example ``max_epochs=2`` for a
    deep net or ``pca__n_components=50`` for a pipeline). A ``name`` that is not a str raises
    ``InvalidParameterError``; an unknown one ``KeyError`` naming close matches.

    Examples
    --------
    >>> from skquake.models import create_model, get_search_space
    >>> model = create_model("svr-rbf", svr__C=10.0, input_shape=(4, 64, 64))
    >>> [name for name, _ in model.steps]
    ['image', 'fill', 'pool', 'db', 'flatten', 'scale', 'pca', 'svr']
    >>> model.get_params()["svr__C"], model.get_params()["image__input_shape"]
    (10.0, (4, 64, 64))
    >>> get_search_space("svr-rbf")["svr__C"]
    [0.1, 1.0, 10.0]
    """
    return get_model_spec(name).create(**overrides)


@validate_params(
    {"name": [str], "kind": [StrOptions({"grid", "optuna", "raw"})]},
    prefer_skip_nested_validation=True,
)
def get_search_space(name: str, kind: str = "grid") -> dict:
    """The default search space of a registered model.

    Parameters
    ----------
    name : str
        Registry name.
    kind : {"grid", "optuna", "raw"}
        ``"grid"``: ``{param: [values]}`` for ``GridSearchCV``; ``"optuna"``:
        ``{param: optuna.distributions.BaseDistribution}`` for ``OptunaSearchCV``;
        ``"raw"``: the :class:`Categorical` / :class:`FloatRange` / :class:`IntRange` objects.
    """
    space = get_model_spec(name).search_space
    if kind == "raw":
        return dict(space)
    if kind == "grid":
        return {k: v.grid() for k, v in space.items()}
    return {k: v.to_optuna() for k, v in space.items()}
