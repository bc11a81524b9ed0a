"""Synthetic QuakeSet files: the layout of the real ``earthquakes.h5`` with simulated SAR.

What is simulated (all in decibels, then converted to linear sigma0):

* land cover from smoothed random fields: water, vegetation, bare soil and urban areas, each
  with its own VV/VH level and texture, plus a per-patch calibration/incidence offset and
  terrain undulation;
* per acquisition date: soil-moisture / vegetation drift and a few small unrelated changed
  blobs, so that any two dates differ a little even without an earthquake;
* an earthquake signature in ``post`` only: an elliptical, patchy area of backscatter change
  (collapse darkens urban areas, landslides turn vegetation into bare soil, roughening
  brightens bare soil) whose extent and strength grow with the magnitude, with a random
  location (sometimes partly outside the patch), shape, orientation and attenuation;
* multiplicative gamma speckle (4.4 looks, mean 1), drawn independently per date and channel;
* NaN no-data wedges (swath edges) on some images.

Magnitudes follow N(5.64, 0.44) truncated above 4; events are split about 70/15/15 into
``train`` / ``validation`` / ``test``, stratified by magnitude.
"""
from __future__ import annotations

import functools
import os
from numbers import Integral, Real
from pathlib import Path

import h5py
import numpy as np
import scipy.fft

from ...utils import (
    Interval,
    InvalidParameterError,
    StrictInterval,
    atomic_output,
    check_capacity,
    validate_params,
)

__all__ = ["make_quakeset", "LAND_COVER"]

#: (name, VV dB, VH dB, texture std dB): typical C-band levels per land-cover class
LAND_COVER = (
    ("water", -20.0, -27.0, 1.0),
    ("vegetation", -9.0, -15.0, 1.5),
    ("bare soil", -12.0, -20.0, 1.5),
    ("urban", 0.0, -8.0, 3.0),
)
_LEVELS = np.array([[vv, vh] for _, vv, vh, _ in LAND_COVER])  # (class, channel)
_TEXTURE = np.array([t for *_, t in LAND_COVER])
# Mean dB change per class and channel inside the earthquake area (per unit strength).
_QUAKE_BIAS = np.array([[0.0, 0.0], [0.3, -0.7], [0.5, 0.2], [-1.0, -0.6]])
ENL = 4.4  # equivalent number of looks of Sentinel-1 IW GRD products
MAGNITUDE_MEAN, MAGNITUDE_STD, MAGNITUDE_MIN = 5.64, 0.44, 4.0
_N_EVENT_IDS = 590_000_000  # event ids are 10_000_000 + one of these
SPLIT_PATTERN = ("train",) * 14 + ("validation",) * 3 + ("test",) * 3  # 70/15/15 per stratum


def _smooth_fields(rng, n, size, sigma):
    """``n`` zero-mean unit-variance Gaussian random fields, Gaussian-correlated with ``sigma`` px.

    White noise is filtered in the Fourier domain, which costs the same for any ``sigma``
    (a spatial convolution with sigma ~50 px would dominate at 512 x 512). The noise is drawn
    directly as Fourier coefficients, and only where the Gaussian filter is not negligible
    (|f| < 0.7 / sigma), so smooth fields cost little more than one inverse FFT.
    """
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float32), (n,))[:, None, None]
    # exp(-2 pi^2 sigma^2 f^2) < 1e-4 beyond |f| = 0.68 / sigma
    k = int(min(size // 2, np.ceil(0.7 / float(sigma.min()) * size)))
    rows = np.r_[0 : k + 1, size - k : size] if 2 * k + 1 < size else np.arange(size)
    cols = slice(0, min(k, size // 2) + 1)
    shape = (n, len(rows), cols.stop)
    coef = np.empty(shape, dtype=np.complex64)
    coef.real = rng.standard_normal(shape, dtype=np.float32)
    coef.imag = rng.standard_normal(shape, dtype=np.float32)
    coef *= np.exp(np.float32(-2.0 * np.pi**2) * sigma**2 * _freq2(size)[rows, cols])
    spectrum = np.zeros((n, size, size // 2 + 1), dtype=np.complex64)
    spectrum[:, rows, cols] = coef
    fields = scipy.fft.irfft2(spectrum, s=(size, size))
    fields -= fields.mean(axis=(1, 2), keepdims=True)
    fields /= fields.std(axis=(1, 2), keepdims=True) + np.float32(1e-12)
    return fields


@functools.lru_cache(maxsize=4)
def _freq2(size):
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    return (fy**2 + fx**2).astype(np.float32)


def _land_cover(rng, size):
    """Class map (size, size) of int: 0 water, 1 vegetation, 2 bare soil, 3 urban."""
    p_water, p_veg, p_bare, p_urban = rng.dirichlet([1.0, 3.0, 2.0, 0.8])
    a, b, c = _smooth_fields(rng, 3, size, size * rng.uniform(0.05, 0.15, 3))
    water = a < np.quantile(a, p_water)
    urban = (b > np.quantile(b, 1.0 - p_urban)) & ~water
    vegetation = c > np.quantile(c, p_bare / (p_bare + p_veg))
    return np.where(water, 0, np.where(urban, 3, np.where(vegetation, 1, 2)))


def _base_db(rng, classes, size):
    """Noise-free backscatter (2, size, size) in dB of one patch."""
    db = _LEVELS[classes].transpose(2, 0, 1).astype(np.float32)
    # incidence angle and calibration of this scene
    db += rng.normal(0.0, 1.0, (2, 1, 1)).astype(np.float32)
    texture = _smooth_fields(rng, 2, size, 1.0)
    tex_std = _TEXTURE[classes]
    db[0] += tex_std * texture[0]
    db[1] += tex_std * (0.7 * texture[0] + 0.71 * texture[1])
    db += 1.0 * _smooth_fields(rng, 1, size, size / 6.0)  # terrain
    return db


@functools.lru_cache(maxsize=4)
def _grid(size):
    grid = np.mgrid[0:size, 0:size].astype(np.float32)
    grid.flags.writeable = False  # shared by every call through the cache
    return grid


def _ellipse_d2(size, cy, cx, radius, aspect, theta):
    yy, xx = _grid(size)
    dy, dx = yy - np.float32(cy), xx - np.float32(cx)
    cos, sin = np.float32(np.cos(theta)), np.float32(np.sin(theta))
    u = (dx * cos + dy * sin) * np.float32(1.0 / (radius * np.sqrt(aspect)))
    v = (dy * cos - dx * sin) * np.float32(np.sqrt(aspect) / radius)
    return u * u + v * v


def _unrelated_changes(rng, classes, size):
    """dB change (2, size, size) of one date that has nothing to do with an earthquake."""
    soil = ((classes == 1) | (classes == 2)).astype(np.float32)
    drift = rng.normal(0.0, 0.35, (2, 1, 1)).astype(np.float32) + np.float32(0.3) * _smooth_fields(
        rng, 1, size, size * 0.2)
    delta = drift * soil
    for _ in range(rng.poisson(1.5)):  # ploughed fields, flooding, construction, ...
        # exp(-d^4 / 2): a flat-topped blob with a sharp rim, like a field or a building site
        cy, cx = rng.uniform(0, size, 2)
        d2 = _ellipse_d2(size, cy, cx, size * rng.uniform(0.03, 0.08), rng.uniform(1, 2.5),
                         rng.uniform(0, np.pi))
        step = rng.normal(0.0, 3.0)
        steps = np.array([step, step + rng.normal(0, 1)], dtype=np.float32)[:, None, None]
        delta += np.exp(np.float32(-0.5) * d2 * d2)[None] * steps
    return delta


def _earthquake(rng, magnitude, classes, size, signal_strength):
    """dB change (2, size, size) caused by an earthquake of ``magnitude`` on this patch."""
    radius = size * 0.35 * 2.0 ** ((magnitude - 5.6) / 0.6) * rng.lognormal(0.0, 0.35)
    radius = float(np.clip(radius, 0.02 * size, 2.0 * size))
    # Depth, distance to the epicentre and local geology attenuate the surface effect.
    strength = (4.0 * signal_strength * max(0.3, 1.0 + 0.8 * (magnitude - 5.6))
                * rng.uniform(0.5, 1.2))
    cy, cx = rng.uniform(-0.15, 1.15, 2) * size
    d2 = _ellipse_d2(size, cy, cx, radius, rng.uniform(1.0, 3.0), rng.uniform(0, np.pi))
    patchy = np.clip(0.6 + 0.4 * _smooth_fields(rng, 1, size, max(1.0, 0.03 * size))[0], 0, 1)
    weight = np.float32(strength) * np.exp(np.float32(-0.5) * d2) * patchy
    z = _smooth_fields(rng, 2, size, 1.5)
    z[1] = 0.6 * z[0] + 0.8 * z[1]  # VH change partly follows VV
    z += _QUAKE_BIAS[classes].transpose(2, 0, 1)
    z *= weight[None]
    return z


def _nodata_mask(rng, size):
    """Boolean (size, size): a swath-edge wedge covering 5-40 % of the image."""
    theta = rng.integers(4) * np.pi / 2 + rng.normal(0.0, np.radians(15))
    yy, xx = _grid(size)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    return u > np.quantile(u, 1.0 - rng.uniform(0.05, 0.4))


def _to_linear(rng, db):
    speckle = rng.standard_gamma(ENL, db.shape, dtype=np.float32)
    speckle *= np.float32(1.0 / ENL)  # mean 1: speckle does not bias the backscatter
    return np.exp(db.astype(np.float32) * np.float32(np.log(10.0) / 10.0)) * speckle


def _magnitudes(rng, n):
    m = rng.normal(MAGNITUDE_MEAN, MAGNITUDE_STD, n)
    while np.any(bad := m <= MAGNITUDE_MIN):
        m[bad] = rng.normal(MAGNITUDE_MEAN, MAGNITUDE_STD, bad.sum())
    return np.round(m, 2)


def _splits(rng, magnitudes):
    """70/15/15 by event, drawn within strata of 20 events of similar magnitude."""
    n = len(magnitudes)
    order = np.argsort(magnitudes, kind="stable")
    splits = np.empty(n, dtype=object)
    for start in range(0, n, len(SPLIT_PATTERN)):
        block = order[start : start + len(SPLIT_PATTERN)]
        splits[block] = rng.permutation(SPLIT_PATTERN)[: len(block)]
    if n >= 3:  # tiny files still get every split
        for name in ("validation", "test"):
            if not np.any(splits == name):
                candidates = np.flatnonzero(splits == "train")
                splits[rng.choice(candidates)] = name
    return splits


# Peak memory of simulating one patch, per pixel: about 110 bytes measured with tracemalloc
# for 64 to 512 px (random fields, their spectra, masks, three float32 images), plus margin.
_BYTES_PER_SIMULATED_PIXEL = 128


def _check_size(path, n_events, patch_size, patches_per_event, before_fraction):
    """Refuse, before anything is drawn or written, a file that cannot fit (with the numbers)."""
    check_capacity(
        f"make_quakeset(n_events={n_events}, patch_size={patch_size}): simulating one "
        f"{patch_size} x {patch_size} patch (and drawing {n_events} events)",
        memory=_BYTES_PER_SIMULATED_PIXEL * patch_size**2 + 64 * n_events,
        parameters=("patch_size", "n_events"),
        hint="choose a smaller patch_size (the real file has 512)",
    )
    dates = 3 if before_fraction > 0 else 2  # an upper bound: 'before' is drawn per patch
    n_patches = n_events * patches_per_event
    check_capacity(
        f"make_quakeset(n_events={n_events}, patches_per_event={patches_per_event}, "
        f"patch_size={patch_size}): up to {n_patches} patches of {dates} images",
        disk=n_patches * dates * 8 * patch_size**2 + n_events * (16 * patch_size + 4096),
        folder=Path(path).parent,
        parameters=("n_events", "patches_per_event", "patch_size"),
        hint="choose fewer events or patches, a smaller patch_size, or a folder with more space",
    )


def _write_event(f, rng, event_id, split, magnitude, n_patches, size, before_fraction,
                 nodata_fraction, signal_strength):
    group = f.create_group(event_id)
    group.attrs["split"] = split
    group.attrs["magnitude"] = float(magnitude)
    lon, lat = rng.uniform(-180, 180), rng.uniform(-60, 70)
    step = 9e-5  # ~10 m in degrees
    group.create_dataset("x", data=lon + step * (np.arange(size) - size / 2))
    group.create_dataset("y", data=lat - step * (np.arange(size) - size / 2))
    n_samples = 0
    for p in range(n_patches):
        patch = group.create_group(f"patch_{p}")
        classes = _land_cover(rng, size)
        base = _base_db(rng, classes, size)
        dates = ("before", "pre", "post") if rng.random() < before_fraction else ("pre", "post")
        # Images of one patch usually come from one orbit track: they share its swath edge.
        shared = _nodata_mask(rng, size) if rng.random() < nodata_fraction else None
        for date in dates:
            db = base + _unrelated_changes(rng, classes, size)
            if date == "post":
                db += _earthquake(rng, magnitude, classes, size, signal_strength)
            image = _to_linear(rng, db)
            if shared is not None:
                image[:, shared] = np.nan
            if rng.random() < nodata_fraction / 3:
                image[:, _nodata_mask(rng, size)] = np.nan
            patch.create_dataset(date, data=np.ascontiguousarray(image.transpose(1, 2, 0)))
        n_samples += len(dates) - 1
    return n_samples


@validate_params(
    {
        "path": [str, os.PathLike],
        "n_events": [StrictInterval(Integral, 1, None, closed="left")],
        "patch_size": [StrictInterval(Integral, 4, None, closed="left")],
        "patches_per_event": [StrictInterval(Integral, 1, None, closed="left")],
        # Whatever numpy.random.default_rng takes (int, Generator, SeedSequence, ...); it checks.
        "random_state": "no_validation",
        "overwrite": ["boolean"],
        "before_fraction": [Interval(Real, 0, 1, closed="both")],
        "nodata_fraction": [Interval(Real, 0, 1, closed="both")],
        "signal_strength": [StrictInterval(Real, 0, None, closed="both")],
    },
    prefer_skip_nested_validation=True,
)
def make_quakeset(path, n_events=200, patch_size=64, patches_per_event=2, random_state=0,
                  overwrite=False, *, before_fraction=0.8, nodata_fraction=0.15,
                  signal_strength=1.0):
    """Write a synthetic QuakeSet HDF5 file in the layout of the real ``earthquakes.h5``.

    The defaults write the "default synthetic file" of the quick benchmark: 200 events,
    1-2 patches each, about 540 samples of 64 x 64 pixels (~30 MB, a few seconds).

    Parameters
    ----------
    path : str or path-like
        Target file. Written to a temporary file in the same directory and moved into place
        only when complete, so an interrupted run never leaves a file at ``path``.
    n_events : int, default=200
        Number of earthquakes (top-level groups).
    patch_size : int, default=64
        Images are ``patch_size x patch_size x 2`` (the real file: 512).
    patches_per_event : int, default=2
        Each event gets between 1 and this many patches (uniformly drawn).
    random_state : int, numpy Generator or None, default=0
        Same value, same file (byte-for-byte pixel values).
    overwrite : bool, default=False
        If False, an existing ``path`` raises :class:`FileExistsError`.
    before_fraction : float, default=0.8
        Probability that a patch has a ``before`` image (and so a negative sample).
    nodata_fraction : float, default=0.15
        Probability that a patch has a swath-edge NaN wedge shared by its images; each image
        also gets its own wedge with a third of that probability.
    signal_strength : float, default=1.0
        Scales the earthquake's backscatter change (0 makes positives indistinguishable from
        negatives; larger values make the task easier).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileExistsError, IsADirectoryError, FileNotFoundError, NotADirectoryError
        ``path`` exists (without ``overwrite``), is a folder, or its folder is missing.
    skquake.utils.ResourceLimitError
        One patch cannot be simulated in the available memory, or the file (at most
        ``n_events * patches_per_event * 3 * patch_size**2 * 8`` bytes) cannot fit in the free
        space of its folder; the message gives both sizes. Nothing is written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skquake.datasets import QuakeSet, make_quakeset
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = make_quakeset(Path(tmp.name) / "tiny.h5", n_events=4, patch_size=8)
    >>> path.name, QuakeSet(path, split="all").image_shape
    ('tiny.h5', (4, 8, 8))
    >>> make_quakeset(path, n_events=4, patch_size=8)
    Traceback (most recent call last):
    ...
    FileExistsError: ...tiny.h5 already exists; pass overwrite=True to replace it
    >>> tmp.cleanup()
    """
    n_events, patch_size, patches_per_event = int(n_events), int(patch_size), int(patches_per_event)
    if n_events > _N_EVENT_IDS:  # ids are drawn without replacement
        raise InvalidParameterError(f"The 'n_events' parameter of make_quakeset must be at most "
                                    f"{_N_EVENT_IDS} (distinct event ids). Got {n_events} instead.")
    before_fraction, nodata_fraction = float(before_fraction), float(nodata_fraction)
    with atomic_output(path, overwrite=overwrite) as tmp:
        _check_size(path, n_events, patch_size, patches_per_event, before_fraction)
        rng = np.random.default_rng(random_state)
        magnitudes = _magnitudes(rng, n_events)
        splits = _splits(rng, magnitudes)
        ids = np.sort(rng.choice(_N_EVENT_IDS, size=n_events, replace=False) + 10_000_000)
        n_patches = rng.integers(1, patches_per_event + 1, size=n_events)
        seeds = rng.integers(0, 2**63 - 1, size=n_events)
        with h5py.File(tmp, "w") as f:
            f.attrs["generator"] = "skquake.datasets.synthetic.make_quakeset"
            for i in range(n_events):
                _write_event(f, np.random.default_rng(seeds[i]), str(ids[i]), splits[i],
                             magnitudes[i], int(n_patches[i]), patch_size, before_fraction,
                             nodata_fraction, float(signal_strength))
    return Path(path)
