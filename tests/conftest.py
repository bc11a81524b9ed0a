"""Shared fixtures: tiny QuakeSet files generated on the fly (never downloaded)."""
import os

# Two xdist workers on two cores: one BLAS / torch thread each, or they fight.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import pytest  # noqa: E402


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
