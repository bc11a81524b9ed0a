"""Data pieces of the deep estimators: the image dataset and the training batch sampler."""
from __future__ import annotations

import math

import torch
from torch.utils.data import Sampler

__all__ = ["NoSingletonBatchSampler"]


class _ImageDataset(torch.utils.data.Dataset):
    """(image, target) pairs for the DataLoader, from a tensor or a :class:`LazyImages`."""

    def __init__(self, X, y=None):
        self.X = X
        self.y = y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        x = self.X[i]
        if not isinstance(x, torch.Tensor):
            x = torch.from_numpy(x)
        if self.y is None:
            # skorch unpacks (X, y) batches; prediction has no target.
            return x, torch.zeros((), dtype=torch.float32)
        return x, self.y[i]


class NoSingletonBatchSampler(Sampler):
    """Shuffled batches of ``batch_size`` where the last batch never holds a single sample.

    A trailing batch of one sample is merged into the previous batch (BatchNorm cannot
    normalise a batch of one in training mode, and the half-batch ranking pairing needs two
    samples); no sample is dropped.

    Parameters
    ----------
    n : int
        Number of samples (at least 2).
    batch_size : int
        At least 2.
    shuffle : bool, default=True
    generator : torch.Generator, optional
        Source of the permutations (seeded for reproducible fits).
    """

    def __init__(self, n, batch_size, shuffle=True, generator=None):
        if n < 2:
            raise ValueError(f"training needs at least 2 samples, got {n}")
        if batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 for training, got {batch_size}")
        self.n = int(n)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self):
        n_batches = math.ceil(self.n / self.batch_size)
        if n_batches > 1 and self.n % self.batch_size == 1:
            n_batches -= 1
        return n_batches

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator) if self.shuffle else torch.arange(self.n)
        order = order.tolist()
        batches = [order[i:i + self.batch_size] for i in range(0, self.n, self.batch_size)]
        if len(batches) > 1 and len(batches[-1]) == 1:
            batches[-2].extend(batches.pop())
        yield from batches
