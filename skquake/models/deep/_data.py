"""Data pieces of the deep estimators: the image dataset, sample weights, the batch sampler.

Batches from a decoded cache (:class:`~skquake.datasets.CachedQuakeSet`, or a ``LazyImages``
view of one) are read whole: the DataLoader calls a dataset's ``__getitems__(indices)`` when it
has one (torch's ``_MapDatasetFetcher``); ours returns a :class:`_BatchRequest`, which
:class:`BatchCollate` (the estimators' ``collate_fn``) reads with one indexed read of the
cache's array, in the loader's worker. Float16 decibels travel as ``{_DECIBELS: batch}`` and are
decoded on the device by :meth:`QuakeNetBase.decode_batch`. Every other input keeps the
per-sample path (``__getitem__`` + ``default_collate``) unchanged.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from torch.utils.data import Sampler, default_collate

__all__ = ["BatchCollate", "NoSingletonBatchSampler", "decode_decibels"]

# Keys of a weighted batch's input: ``{_INPUT: X batch, _WEIGHT: weights}``, or the input's
# own keys plus _WEIGHT when the input is a dict (the damage net's {"image", "meta"}).
_INPUT = "_skquake_input"
_WEIGHT = "_skquake_sample_weight"
# Key of a batch input holding float16 decibels read from a cache, decoded on the device.
_DECIBELS = "_skquake_float16_decibels"
_LN10_10 = math.log(10.0) / 10.0  # 10 ** (x / 10) == exp(x * ln(10) / 10), as the cache decodes


class _BatchRequest:
    """Samples ``indices`` of ``dataset``, read as one batch when collated (see the module)."""

    __slots__ = ("dataset", "indices")

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def read(self):
        return self.dataset.read_batch(self.indices)

    def samples(self):
        return [self.dataset[i] for i in self.indices]


class BatchCollate:
    """The deep estimators' ``collate_fn``: batched reads pass through, the rest is collated.

    A :class:`_BatchRequest` is read as one batch; a list of samples goes to ``collate_fn``
    (torch's ``default_collate`` when None). A user's ``collate_fn`` also gets a batch request
    as the list of its samples, read one by one (the per-sample path), as it expects.
    """

    def __init__(self, collate_fn=None):
        self.collate_fn = collate_fn

    def __call__(self, data):
        if isinstance(data, _BatchRequest):
            return data.read() if self.collate_fn is None else self.collate_fn(data.samples())
        return (default_collate if self.collate_fn is None else self.collate_fn)(data)


def decode_decibels(x):
    """Float16 decibels -> float32 linear backscatter ``exp(x ln(10) / 10)``, on ``x``'s device.

    The cache's own decoding (``CachedQuakeSet.read_batch(decode=True)``), in torch: -inf (stored
    zeros) becomes 0. One float32 copy of ``x``, decoded in place.
    """
    return x.to(dtype=torch.float32, copy=True).mul_(_LN10_10).exp_()


def with_batch_collate(kwargs, batch_size):
    """A DataLoader's arguments with :class:`BatchCollate` around their ``collate_fn``.

    Without automatic batching (``batch_size=None``) the loader's own default stays.
    """
    if batch_size is None:
        return kwargs
    return {**kwargs, "collate_fn": BatchCollate(kwargs.get("collate_fn"))}


def _take(values, indices):
    """``values`` at ``indices`` as a tensor, as ``default_collate`` would stack them."""
    if isinstance(values, torch.Tensor):
        return values[torch.as_tensor(indices)]
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        return torch.from_numpy(np.ascontiguousarray(values[np.asarray(indices)]))
    return default_collate([values[i] for i in indices])


class _ImageDataset(torch.utils.data.Dataset):
    """(image, target) pairs for the DataLoader, from a tensor or a :class:`LazyImages`.

    A view whose dataset reads batches (``X.batch_encoding`` not None: a cache) is read a batch
    at a time (:meth:`read_batch`); anything else sample by sample.
    """

    def __init__(self, X, y=None):
        self.X = X
        self.y = y
        self.encoding = getattr(X, "batch_encoding", None)

    @property
    def batched(self):
        return self.encoding is not None

    def __len__(self):
        return len(self.X)

    def __getitems__(self, indices):
        if not self.batched:
            return [self[i] for i in indices]
        return _BatchRequest(self, indices)

    def read_batch(self, indices):
        """``(x, y)`` of a batch: x as stored in the cache (float16 decibels as ``{_DECIBELS: x}``)."""
        x = self.X.read_batch(indices)
        if not isinstance(x, torch.Tensor):
            x = torch.from_numpy(x)
        if self.encoding == "decibels":
            x = {_DECIBELS: x}
        if self.y is None:
            return x, torch.zeros(len(indices), dtype=torch.float32)
        return x, _take(self.y, indices)

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

    @property
    def batched(self):
        return getattr(self.dataset, "batched", False)

    def __getitem__(self, i):
        x, y = self.dataset[i]
        return self._with_weight(x, self.sample_weight[i]), y

    def __getitems__(self, indices):
        if not self.batched:
            return [self[i] for i in indices]
        return _BatchRequest(self, indices)

    def read_batch(self, indices):
        x, y = self.dataset.read_batch(indices)
        return self._with_weight(x, self.sample_weight[torch.as_tensor(indices)]), y

    @staticmethod
    def _with_weight(x, w):
        if isinstance(x, Mapping):
            return {**x, _WEIGHT: w}
        return {_INPUT: x, _WEIGHT: w}


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
