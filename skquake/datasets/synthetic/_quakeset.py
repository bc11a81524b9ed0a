"""Synthetic QuakeSet files: the layout of the real ``earthquakes.h5`` with simulated SAR.

The file is a consistent world. Each event has an epicentre (longitude, latitude) and a
hypocentre depth, stored as event attributes. Each patch is a footprint near it: the
epicentre's pixel position in the patch is drawn (inside the patch or up to 15 % of its width
outside, so some patches contain the epicentre and others see the signature from outside) and
the patch's pixel-centre coordinates (``x``, ``y``, EPSG:4326) follow from it at a 10 m pixel
spacing.

What is simulated (all in decibels, then converted to linear sigma0; :mod:`._sar`,
:mod:`._signature`):

* land cover from smoothed random fields: water, vegetation, bare soil and urban areas, each
  with its own VV/VH level and texture, plus a per-patch calibration/incidence offset and
  terrain undulation;
* per acquisition date: soil-moisture / vegetation drift and a few small unrelated changed
  blobs, so that any two dates differ a little even without an earthquake;
* an earthquake signature in ``post`` only, centred at the epicentre's pixel position: an
  elliptical, patchy area of backscatter change (collapse darkens urban areas, landslides turn
  vegetation into bare soil, roughening brightens bare soil) whose extent and strength grow
  with the magnitude and whose extent grows and strength falls with the depth;
* multiplicative gamma speckle (4.4 looks, mean 1), drawn independently per date and channel;
* NaN no-data wedges (swath edges) on some images.

Each patch also stores the masks of where the changes are substantial (:mod:`.._masks`).
Magnitudes follow N(5.64, 0.44) truncated above 4; events are split about 70/15/15 into
``train`` / ``validation`` / ``test``, stratified by magnitude.
"""
from __future__ import annotations

import os
from numbers import Integral, Real
from pathlib import Path

import h5py
import numpy as np

from ...utils import (
    EARTH_RADIUS_KM,
    Interval,
    InvalidParameterError,
    StrictInterval,
    atomic_output,
    check_capacity,
    validate_params,
)
from .._footprint import EPICENTRE_ATTRS
from .._masks import EARTHQUAKE_MASK, date_mask
from ._sar import LAND_COVER, _base_db, _land_cover, _nodata_mask, _to_linear
from ._signature import draw_depths, earthquake_change, event_signature, unrelated_changes

__all__ = ["GENERATOR_VERSION", "LAND_COVER", "make_quakeset"]

MAGNITUDE_MEAN, MAGNITUDE_STD, MAGNITUDE_MIN = 5.64, 0.44, 4.0
_N_EVENT_IDS = 590_000_000  # event ids are 10_000_000 + one of these
SPLIT_PATTERN = ("train",) * 14 + ("validation",) * 3 + ("test",) * 3  # 70/15/15 per stratum
#: Version of the synthetic world, stored as the file attribute ``generator_version`` (files of
#: version 1 had no such attribute): 2 added epicentres, depths, per-patch footprints and masks.
GENERATOR_VERSION = 2
PIXEL_KM = 0.01  # Sentinel-1 GRD's 10 m pixel spacing
_DEGREES_PER_KM = 180.0 / (np.pi * EARTH_RADIUS_KM)
_COMPRESS_MASKS_FROM = 128 * 128  # pixels


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
        # images (float32 x 2 channels), uncompressed masks (one per date and the earthquake's),
        # coordinates (float64 rows) and per-group overhead
        disk=(n_patches * (dates * 9 + 1) * patch_size**2 + n_patches * 16 * patch_size
              + n_events * 4096),
        folder=Path(path).parent,
        parameters=("n_events", "patches_per_event", "patch_size"),
        hint="choose fewer events or patches, a smaller patch_size, or a folder with more space",
    )


def _footprint(longitude, latitude, centres, size):
    """``x`` (P, W) and ``y`` (P, H): pixel-centre degrees of patches whose epicentre pixel is ``centres``.

    North-up grids with square 10 m pixels: rows go south, columns east; the epicentre sits at
    the fractional pixel position ``(row, column) = centres[p]`` of patch ``p``.
    """
    dlat = PIXEL_KM * _DEGREES_PER_KM
    dlon = dlat / np.cos(np.radians(latitude))
    steps = np.arange(size, dtype=np.float64)
    x = longitude + (steps[None, :] - centres[:, 1:2]) * dlon
    y = latitude - (steps[None, :] - centres[:, 0:1]) * dlat
    return x, y


def _write_array(group, name, data):
    """``group[name] = data`` (contiguous, uncompressed) through HDF5's own calls.

    h5py's ``create_dataset`` costs ~80 us of Python per dataset, this ~30: with four masks
    per patch beside the images, that is most of what the masks would add to the writing time.
    """
    data = np.ascontiguousarray(data)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_obj_track_times(False)  # as h5py does: the same random_state writes the same bytes
    dataset = h5py.h5d.create(group.id, name.encode(), h5py.h5t.py_create(data.dtype),
                              h5py.h5s.create_simple(data.shape), dcpl=dcpl)
    dataset.write(h5py.h5s.ALL, h5py.h5s.ALL, data)


def _write_mask(group, name, mask):
    # Large binary masks compress ~20x with gzip (the filter every HDF5 build has), for ~4 % of
    # the writing time at 512 px; on small patches a filter's setup costs more than it saves.
    if mask.size >= _COMPRESS_MASKS_FROM:
        group.create_dataset(name, data=mask, compression="gzip", compression_opts=4)
    else:
        _write_array(group, name, mask)


def _write_event(f, rng, event_id, split, magnitude, n_patches, size, before_fraction,
                 nodata_fraction, signal_strength):
    group = f.create_group(event_id)
    group.attrs["split"] = split
    group.attrs["magnitude"] = float(magnitude)
    # Longitudes stop short of the antimeridian so that a footprint's x never wraps.
    longitude, latitude = rng.uniform(-179.0, 179.0), rng.uniform(-60.0, 70.0)
    depth = float(draw_depths(rng, 1)[0])
    for name, value in zip(EPICENTRE_ATTRS, (longitude, latitude, depth)):
        group.attrs[name] = value
    signature = event_signature(rng, magnitude, depth, size, signal_strength)
    centres = np.empty((n_patches, 2))  # the epicentre's (row, column) in each patch
    n_samples = 0
    for p in range(n_patches):
        patch = group.create_group(f"patch_{p}")
        cy, cx = centres[p] = rng.uniform(-0.15, 1.15, 2) * size
        classes = _land_cover(rng, size)
        base = _base_db(rng, classes, size)
        dates = ("before", "pre", "post") if rng.random() < before_fraction else ("pre", "post")
        # Images of one patch usually come from one orbit track: they share its swath edge.
        shared = _nodata_mask(rng, size) if rng.random() < nodata_fraction else None
        for date in dates:
            change, mask = unrelated_changes(rng, classes, size)
            db = base + change
            if date == "post":
                quake, quake_mask = earthquake_change(rng, signature, classes, size, cy, cx)
                db += quake
            image = _to_linear(rng, db)
            if shared is not None:
                image[:, shared] = np.nan
            if rng.random() < nodata_fraction / 3:
                image[:, _nodata_mask(rng, size)] = np.nan
            _write_array(patch, date, image.transpose(1, 2, 0))
            _write_mask(patch, date_mask(date), mask)
        _write_mask(patch, EARTHQUAKE_MASK, quake_mask)
        n_samples += len(dates) - 1
    x, y = _footprint(longitude, latitude, centres, size)
    _write_array(group, "x", x)
    _write_array(group, "y", y)
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
    1-2 patches each, about 560 samples of 64 x 64 pixels (~35 MB, about a second).

    Beyond the public layout (which every reader of the real file reads unchanged), the file
    holds the truth of its world (docs/data.md, "Synthetic files"): per event the attributes
    ``epicentre_longitude``, ``epicentre_latitude`` (degrees) and ``depth_km``; per event ``x``
    ``(P, W)`` and ``y`` ``(P, H)``, the pixel-centre coordinates of each patch (row ``p`` for
    ``patch_p``); per patch the uint8 masks ``mask_earthquake`` and ``mask_<date>`` of where
    the changes are substantial; and the file attribute ``generator_version``
    (:data:`GENERATOR_VERSION`).

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
            f.attrs["generator_version"] = GENERATOR_VERSION
            for i in range(n_events):
                _write_event(f, np.random.default_rng(seeds[i]), str(ids[i]), splits[i],
                             magnitudes[i], int(n_patches[i]), patch_size, before_fraction,
                             nodata_fraction, float(signal_strength))
    return Path(path)
