"""Profiles: the settings of a benchmark run that change its results (``quick``, ``medium``, ``full``)."""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PROFILES", "Profile"]


@dataclass
class Profile:
    """The settings of a benchmark run that change its results.

    Parameters
    ----------
    name : str
        Profile name; also the default output folder ``benchmarks/results/<name>``.
    models : tuple of str
        Registry-name wildcards of the models to run (``("*",)``: all).
    tasks : tuple of str
        Task-name wildcards.
    seeds : tuple of int
        Seeds; each is passed as every ``random_state`` of the estimator and seeds numpy
        and torch.
    pool : int
        Average-pooling factor applied when loading images for deep models (1: full size).
    shallow_pool : int
        Same for shallow models (PCA on full 512 x 512 images does not fit in memory).
    lazy_deep : bool
        Give deep models the lazy :class:`~skquake.datasets.QuakeSet` (``pool`` must be 1)
        instead of arrays in memory.
    deep_overrides, shallow_overrides : dict
        Parameters set on every deep / shallow estimator that has them (``max_epochs``...).
    n_latency : int
        Single-sample predictions timed per row (the median is reported).
    synthetic : bool
        Without a data file, use (and create if absent) the built-in synthetic file.
    synthetic_options : dict
        Generator arguments of the built-in synthetic files, per data option (``{"data":
        {"n_events": 1000}}``: a larger QuakeSet file; see
        :func:`~skquake.benchmark.default_data_file`). Empty: the default files.
    select_on_val : bool
        Deep (skorch) models: score the validation split after every epoch and keep the
        weights of the best epoch (by the task's headline metric). Shallow models are fitted
        once with their registered settings either way.
    threads : int, optional
        Threads per row: torch's intra-op threads and the BLAS / OpenMP pools of the shallow
        models (``None``: torch's default, one per core).
    interval : float in (0, 1), optional
        Magnitude tasks: wrap every model in split-conformal calibration
        (:class:`skquake.uncertainty.ConformalRegressor`, ``method="split"``, calibration
        events drawn from the train split with the row's seed) and report the ``coverage`` and
        ``interval_width`` of intervals of this confidence level. ``None`` (every built-in
        profile): plain models, and the setting is not part of any config id.
    """

    name: str
    models: tuple = ("*",)
    tasks: tuple = ("*",)
    seeds: tuple = (0, 1)
    pool: int = 1
    shallow_pool: int = 1
    lazy_deep: bool = False
    deep_overrides: dict = field(default_factory=dict)
    shallow_overrides: dict = field(default_factory=dict)
    n_latency: int = 5
    synthetic: bool = False
    synthetic_options: dict = field(default_factory=dict)
    select_on_val: bool = True
    threads: int | None = None
    interval: float | None = None


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        # resnet10t, not the papers' mobilenetv2_100: from scratch on the default synthetic
        # file at 32 x 32, mobilenetv2_100 stays at chance even after 20-25 epochs, while
        # resnet10t learns in 8-10 (lr 1e-3, its registered default); see docs/deep.md.
        # The papers' pixel-PCA baselines, the location-invariant change-statistics forests
        # (not in the papers) and a small CNN with and without ranking.
        # Tasks 3, 4 and 7: every change detector (the classical per-pair thresholds, the
        # learned novelty model and the translation net) and the epicentre models.
        models=("svc-rbf", "rfc", "rfc-change", "svr-rbf", "rfr", "rfr-change", "resnet10t-*", "change-*",
                "epicentre-*"),
        seeds=(0, 1),
        pool=2,
        shallow_pool=2,
        deep_overrides={"max_epochs": 8, "batch_size": 16},
        n_latency=5,
        synthetic=True,
        # 32 x 32 images gain little from a second thread, and on a machine busy with other
        # jobs two spinning threads run several times slower than one.
        threads=1,
    ),
    "medium": Profile(
        name="medium",
        # Where the papers' comparisons can show (issue 15): a built-in synthetic file of
        # realistic sample count (1,000 events, 2,636 samples at 64 x 64), the deep models at
        # full resolution of that file for 8 epochs, one seed, every task the runner has.
        models=("svc-rbf", "rfc", "rfc-change", "svr-rbf", "rfr", "rfr-change", "resnet10t-*", "change-*",
                "epicentre-*", "damage-*"),
        seeds=(0,),
        pool=1,
        shallow_pool=1,
        deep_overrides={"max_epochs": 8, "batch_size": 16},
        n_latency=5,
        synthetic=True,
        synthetic_options={"data": {"n_events": 1000}},
        threads=1,
    ),
    "full": Profile(
        name="full",
        models=("*",),
        seeds=(0, 1, 2),
        pool=1,
        shallow_pool=4,
        lazy_deep=True,
        deep_overrides={},  # the registered defaults are the papers' settings
        n_latency=20,
        synthetic=False,
    ),
}
