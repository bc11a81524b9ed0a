"""Splitting and scoring across regions."""

import numpy as np
import pytest
from sklearn.model_selection import LeaveOneGroupOut

from skquake.datasets import (
    load_damage,
    read_damage_layout,
)
from skquake.model_selection import RegionTransferSplit
from skquake.models.damage import make_metadata_forest
from skquake.models import create_model


# timm's smallest model; the backbone builder needs chips of at least 32 x 32 for it
FAST = dict(backbone="test_resnet", max_epochs=1, batch_size=32, random_state=0)


def test_region_transfer_split():
    groups = np.array([0, 0, 1, 2, 2, 2])
    splits = list(RegionTransferSplit().split(np.zeros(6), groups=groups))
    assert [tr.tolist() for tr, _ in splits] == [[0, 1], [2], [3, 4, 5]]
    assert [te.tolist() for _, te in splits] == [[2, 3, 4, 5], [0, 1, 3, 4, 5], [0, 1, 2]]
    # the inverse of leave-one-group-out
    logo = [(te.tolist(), tr.tolist()) for tr, te in LeaveOneGroupOut().split(np.zeros(6), groups=groups)]
    assert logo == [(tr.tolist(), te.tolist()) for tr, te in splits]
    assert RegionTransferSplit(train_regions=[2]).get_n_splits(groups=groups) == 1
    with pytest.raises(ValueError, match="groups"):
        list(RegionTransferSplit().split(np.zeros(6)))
    with pytest.raises(ValueError, match=r"\[7\]"):
        list(RegionTransferSplit(train_regions=[7]).split(np.zeros(6), groups=groups))


# ----------------------------------------------------------------------------- metrics


def test_region_generalization_with_and_without_metadata(damage_file):
    from skquake.model_selection import region_generalization

    X, y, groups = load_damage(damage_file, "all")
    layout = read_damage_layout(damage_file)
    rows = region_generalization(make_metadata_forest(n_estimators=10, random_state=0), X, y, groups,
                                 labels=np.arange(4), random_state=0)
    assert len(rows) == 3 * 3  # 3 training regions x (in region + 2 others)
    assert sum(r["in_region"] for r in rows) == 3
    for r in rows:
        assert (r["train_region"] == r["test_region"]) == r["in_region"]
        assert 0 <= r["accuracy"] <= 1 and len(r["class_distance"]) == 4
    n_region1 = int(np.sum(groups == 1))
    image_only = create_model("damage-image", **FAST, **layout)
    rows = region_generalization(image_only, X, y, groups, train_regions=[1], labels=np.arange(4), random_state=0)
    assert [r["test_region"] for r in rows] == [1, 0, 2]
    assert rows[1]["n"] == int(np.sum(groups == 0)) and rows[0]["n"] < n_region1
