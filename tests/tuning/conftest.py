"""Shared pieces of the tuning tests: a reader for studies that never fails anyone's trial."""
import pytest

optuna = pytest.importorskip("optuna")


def _read_study(storage_url, name):
    # A plain reader: no heartbeat, so reading never fails anyone's trial.
    storage = optuna.storages.RDBStorage(storage_url)
    return optuna.load_study(study_name=name, storage=storage)


@pytest.fixture
def read_study():
    """``read_study(url, name)``: the study, through a storage without heartbeat."""
    return _read_study
