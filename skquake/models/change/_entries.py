"""The change detectors in the model registry (task "change"), with their search spaces.

The classes declare the scikit-learn checks they fail (``_expected_failed_checks``), so the
entries need not.
"""
from __future__ import annotations

import functools

from .._registry import Categorical, FloatRange, IntRange, register_model
from ._classical import LogRatioChangeDetector, PCAKMeansChangeDetector
from ._novelty import NoveltyChangeDetector

_change_model = functools.partial(register_model, task="change", family="shallow")

_SPECKLE_SPACE = {
    "speckle_filter": Categorical(("lee", "mean", "none")),
    "filter_size": IntRange(3, 9, grid_values=(3, 5, 7)),
}


@_change_model("change-logratio-otsu", tags=("baseline",), search_space=_SPECKLE_SPACE,
               description="Lee-filtered log-ratio, Otsu threshold per pair")
def change_logratio_otsu(**overrides):
    return LogRatioChangeDetector(threshold="otsu").set_params(**overrides)


@_change_model("change-logratio-kmeans", tags=("baseline",), search_space=_SPECKLE_SPACE,
               description="Lee-filtered log-ratio, two-class k-means per pair")
def change_logratio_kmeans(**overrides):
    return LogRatioChangeDetector(threshold="kmeans").set_params(**overrides)


@_change_model(
    "change-pca-kmeans", tags=("baseline",),
    search_space={"block_size": IntRange(3, 9, grid_values=(3, 5, 7)),
                  "n_components": IntRange(1, 6, grid_values=(2, 3, 4))},
    description="Celik (2009): block PCA of the log-ratio, k-means (k=2) per pair",
)
def change_pca_kmeans(**overrides):
    return PCAKMeansChangeDetector(random_state=0).set_params(**overrides)


@_change_model(
    "change-novelty-gmm", tags=("learned",),
    search_space={"n_components": IntRange(1, 8, grid_values=(2, 4, 6)),
                  "threshold": Categorical(("otsu", 0.1, 0.2))},
    description="Gaussian-mixture novelty of multi-scale log-ratio statistics, learned from the training pairs",
)
def change_novelty_gmm(**overrides):
    return NoveltyChangeDetector(random_state=0).set_params(**overrides)


# A small CNN, as the deep models of the quick profile (resnet10t learns from scratch within a
# CPU budget): 10 epochs on the 388 train pairs of the default synthetic file take 20-40 s at
# 32 x 32 on one CPU thread (60-90 s at 64 x 64). Training reads no mask; the window (7) was
# chosen on the validation split's masks at 32 x 32 and 64 x 64 (docs/change.md).
@register_model(
    "change-translation-resnet10t", task="change", family="deep", tags=("learned", "small"),
    search_space={"lr": FloatRange(1e-4, 1e-2, log=True, grid_values=(3e-4, 1e-3, 3e-3)),
                  "window": IntRange(3, 11, grid_values=(5, 7, 9)),
                  "trim": FloatRange(0.0, 0.3, grid_values=(0.0, 0.1, 0.2))},
    description="resnet10t encoder + decoder translating t0 into t1 (Luppino et al. 2019), trimmed Huber "
                "loss; local mean squared residual, one threshold learned from the training pairs",
)
def change_translation_resnet10t(**overrides):
    from ._deep import TranslationChangeDetector  # torch: keeps torch out of ``import skquake.models.change``

    return TranslationChangeDetector(backbone="resnet10t", random_state=0).set_params(**overrides)
