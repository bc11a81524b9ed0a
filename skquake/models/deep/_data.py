"""Data pieces of the deep estimators: the image dataset, sample weights, the batch sampler."""
from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch.utils.data import Sampler

__all__ = ["NoSingletonBatchSampler"]

# Keys of a weighted batch's input: ``{_INPUT: X batch, _WEIGHT: weights}``, or the input's
# own keys plus _WEIGHT when the input is a dict (the damage net's {"image", "meta"}).
_INPUT = "_skquake_input"
_WEIGHT = "_skquake_sample_weight"


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


class _WeightedDataset(torch.utils.data.Dataset):
    """Another dataset's samples with their ``fit(sample_weight=...)`` weight in the input.

    skorch hands a batch's input to both ``infer`` and ``get_loss``: carrying the weights
    there keeps them with their samples through shuffling, batching and skorch's
    ``train_split``. :func:`split_weights` takes them out again before the module sees the input.
    """

    def __init__(self, dataset, sample_weight):
        self.dataset = dataset
        self.sample_weight = torch.as_tensor(sample_weight, dtype=torch.float32)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        x, y = self.dataset[i]
        w = self.sample_weight[i]
        if isinstance(x, Mapping):
            return {**x, _WEIGHT: w}, y
        return {_INPUT: x, _WEIGHT: w}, y


def split_weights(x):
    """A batch's input -> (the module's input, the sample weights or None)."""
    if not (isinstance(x, Mapping) and _WEIGHT in x):
        return x, None
    x = dict(x)
    weight = x.pop(_WEIGHT)
    return x.pop(_INPUT) if _INPUT in x else x, weight


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
