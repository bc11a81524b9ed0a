"""Synthetic building-damage files (:func:`make_damage_dataset`, ``skquake make-damage``)."""
from __future__ import annotations

import os
import pathlib
from numbers import Integral

import h5py
import numpy as np

from ...utils import StrictInterval, atomic_output, check_capacity, validate_params
from .._damage import (
    _CLASS_FREQUENCIES,
    _IMAGE_CHANNELS,
    _N_AFTERSHOCKS,
    _SPLITS,
    CLASS_NAMES,
    DEFAULT_METADATA_COLUMNS,
    FORMAT_NAME,
    FORMAT_VERSION,
)

__all__ = ["make_damage_dataset"]


# =========================================================================== the generator
def _region_params(rng, n_regions):
    """Per-region differences: distance to the rupture, soil, building stock, SAR noise."""
    return {
        # median distance to the rupture (km): the first region is the epicentral one
        "distance": 8.0 * (1.9 ** np.arange(n_regions)) * rng.uniform(0.8, 1.2, n_regions),
        # median VS30 (m/s): a soft-soil basin next to stiff ones
        "vs30": rng.uniform(220, 600, n_regions),
        # building-stock vulnerability offset (older stock -> larger)
        "vulnerability": rng.normal(0.0, 0.35, n_regions),
        # aftershock location: how strongly each region feels the aftershocks
        "aftershock": rng.uniform(-0.6, 0.4, (n_regions, _N_AFTERSHOCKS)),
    }


def _draw_chips(rng, severity_visible, n, size):
    """Post-event RGB chips (uint8, n x 3 x size x size) of one building on its plot.

    The roof is a bright rectangle; visible damage breaks its outline and adds dark debris
    whose amount grows with ``severity_visible``. How much of a building's damage shows is
    random per building (a nadir view hides facade damage), so the chip alone is ambiguous.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    chips = np.empty((n, 3, size, size), dtype=np.uint8)
    for i in range(n):
        ground = rng.uniform(0.25, 0.5) + 0.06 * rng.standard_normal((size, size))
        h, w = rng.uniform(0.35, 0.7, 2)
        cy, cx = rng.uniform(0.35, 0.65, 2)
        roof = (np.abs(yy - cy) < h / 2) & (np.abs(xx - cx) < w / 2)
        roof_rgb = rng.uniform(0.45, 0.9, 3)
        s = float(severity_visible[i])
        # debris: blotchy dark texture inside and just around the footprint
        blur = rng.standard_normal((size // 4 + 1, size // 4 + 1))
        blotch = np.kron(blur, np.ones((4, 4)))[:size, :size]
        near = (np.abs(yy - cy) < h / 2 + 0.08) & (np.abs(xx - cx) < w / 2 + 0.08)
        debris = near & (blotch > 1.5 - 2.2 * s)
        img = np.empty((3, size, size), dtype=np.float32)
        for c in range(3):
            band = ground * (0.9 + 0.2 * c / 2)
            band = np.where(roof, roof_rgb[c] - 0.4 * s * rng.random((size, size)), band)
            band = np.where(debris, 0.25 + 0.15 * rng.random((size, size)), band)
            img[c] = band + 0.04 * rng.standard_normal((size, size))
        chips[i] = np.clip(img * 255, 0, 255).astype(np.uint8)
    return chips


def _simulate(rng, n, n_regions, size):
    """All arrays of a synthetic damage file (see :func:`make_damage_dataset`)."""
    p = _region_params(rng, n_regions)
    # regions of unequal size, like the paper's cities
    region_share = rng.dirichlet(np.full(n_regions, 4.0))
    region = rng.choice(n_regions, size=n, p=region_share)

    dist = p["distance"][region] * np.exp(0.5 * rng.standard_normal(n))
    vs30 = np.clip(p["vs30"][region] * np.exp(0.25 * rng.standard_normal(n)), 150, 800)
    site = -0.5 * np.log(vs30 / 760.0)  # soft soils amplify (positive for vs30 < 760)

    def shaking(ln_scale, extra_sd):
        # one latent intensity per building: decays with distance, amplified by soft soil
        latent = ln_scale - 1.1 * np.log(dist + 10.0) + site + extra_sd * rng.standard_normal(n)
        pga = np.exp(latent + 0.15 * rng.standard_normal(n))  # g
        pgv = np.exp(np.log(pga) + 4.4 + 0.3 * site + 0.15 * rng.standard_normal(n))  # cm/s
        psa03 = pga * 2.2 * np.exp(0.15 * rng.standard_normal(n))
        psa10 = pga * 0.9 * np.exp(0.6 * site + 0.2 * rng.standard_normal(n))
        psa30 = pga * 0.25 * np.exp(1.0 * site + 0.25 * rng.standard_normal(n))
        pga_cms2 = pga * 981.0
        mmi = np.clip(3.66 * np.log10(pga_cms2) - 1.66 + 0.3 * rng.standard_normal(n), 1.0, 10.0)
        values = {"MMI": mmi, "PGA": pga, "PGV": pgv, "PSA03": psa03, "PSA10": psa10, "PSA30": psa30}
        return latent, values

    latent_main, main = shaking(2.9, 0.3)
    columns = {k: v for k, v in main.items()}
    demand = 0.6 * np.log(columns["PSA10"]) + 0.4 * np.log(columns["PGV"] / 100.0)
    for k in range(1, _N_AFTERSHOCKS + 1):
        shift = np.log(0.55 / k) + p["aftershock"][region, k - 1]
        latent_k, values = shaking(2.9 + shift, 0.35)
        for name, v in values.items():
            columns[f"{name}_AS{k}"] = v
        # aftershocks add damage to buildings already weakened
        demand = demand + 0.25 / k * np.maximum(latent_k - latent_main + 0.6, 0.0)

    # hidden building vulnerability (age, height, ...): not in the metadata, partly in the image
    vulnerability = p["vulnerability"][region] + 0.55 * rng.standard_normal(n)
    noise = 0.35 * rng.standard_normal(n)
    severity = demand + vulnerability + noise
    cuts = np.quantile(severity, np.cumsum(_CLASS_FREQUENCIES)[:-1])
    label = np.searchsorted(cuts, severity).astype(np.int64)

    # SAR values: coarse resolution, weakly linked to the building's own damage
    z = (severity - severity.mean()) / severity.std()
    columns["VV"] = -7.5 + 0.6 * z + 1.5 * rng.standard_normal(n)
    columns["VH"] = -14.0 + 0.9 * z + 1.5 * rng.standard_normal(n)
    columns["DPM"] = np.clip(1 / (1 + np.exp(-(0.8 * z - 1.0 + 1.0 * rng.standard_normal(n)))), 0, 1)
    columns["VS30"] = vs30

    # the chip shows part of the damage: the vulnerability and the class, seen through a
    # random per-building visibility
    visibility = rng.uniform(0.25, 1.0, n)
    sev01 = label / 3.0 * 0.8 + 0.2 * np.clip((vulnerability + 1) / 2, 0, 1)
    chips = _draw_chips(rng, np.clip(visibility * sev01, 0, 1), n, size)

    meta = np.stack([columns[c] for c in DEFAULT_METADATA_COLUMNS], axis=1).astype(np.float32)
    # a few values are missing, as in real metadata (SAR gaps, no VS30 grid cell)
    for col, rate in (("VV", 0.03), ("VH", 0.03), ("DPM", 0.05), ("VS30", 0.01)):
        j = DEFAULT_METADATA_COLUMNS.index(col)
        meta[rng.random(n) < rate, j] = np.nan

    # stratified split so that the rare classes reach every split
    split = np.empty(n, dtype=np.uint8)
    for c in range(len(CLASS_NAMES)):
        idx = rng.permutation(np.flatnonzero(label == c))
        n_test = int(round(0.15 * len(idx)))
        n_val = int(round(0.15 * len(idx)))
        split[idx[:n_test]] = 2
        split[idx[n_test:n_test + n_val]] = 1
        split[idx[n_test + n_val:]] = 0
    return {"images": chips, "metadata": meta, "label": label, "region": region.astype(np.int64),
            "split": split}


def _check_size(path, n, size):
    """Refuse, before the simulation, a file that cannot fit (with the numbers)."""
    # All chips are held at once (uint8), plus one chip's float work arrays (about 100 bytes
    # per pixel measured with tracemalloc) and the metadata columns (about 1 KiB per building).
    n_columns = len(DEFAULT_METADATA_COLUMNS)
    what = f"make_damage_dataset(n_buildings={n}, image_size={size})"
    check_capacity(what, memory=3 * n * size**2 + 128 * size**2 + 1024 * n,
                   parameters=("n_buildings", "image_size"),
                   hint="choose fewer buildings or a smaller image_size")
    check_capacity(what, disk=n * (3 * size**2 + 4 * n_columns + 64), folder=pathlib.Path(path).parent,
                   parameters=("n_buildings", "image_size"),
                   hint="choose fewer buildings, a smaller image_size, or a folder with more space")


@validate_params(
    {
        "path": [str, os.PathLike],
        # at least 20 buildings, so that every class and split is present
        "n_buildings": [StrictInterval(Integral, 20, None, closed="left")],
        "n_regions": [StrictInterval(Integral, 2, None, closed="left")],
        "image_size": [StrictInterval(Integral, 8, None, closed="left")],
        # Whatever numpy.random.default_rng takes (int, Generator, SeedSequence, ...); it checks.
        "random_state": "no_validation",
        "overwrite": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_damage_dataset(
    path,
    n_buildings: int = 2000,
    n_regions: int = 4,
    image_size: int = 32,
    random_state: int = 0,
    overwrite: bool = False,
) -> pathlib.Path:
    """Write a synthetic building-damage file in the skquake damage format.

    Metadata come from one latent shaking intensity per building and event that decays with
    the distance to the rupture and is amplified on soft soils (low VS30); PGA, PGV, PSA and
    MMI derive from it with small independent scatter, so they are strongly correlated. The
    two aftershocks are weaker and felt differently per region. Damage grows with the
    long-period demand (PSA10, PGV), with extra aftershock demand and with a hidden building
    vulnerability; class thresholds reproduce the paper's imbalance (about 73 / 20 / 2.5 /
    4.5 %). SAR values (VV, VH, DPM) are weakly linked to damage; a few are missing (NaN).
    Image chips show the damage only through a random per-building visibility, so neither
    the metadata nor the image alone determine the class. Regions differ in distance to the
    rupture, soil, building stock and aftershock exposure.

    Parameters
    ----------
    path : str or path-like
        Output file. Written to a temporary file beside it, then renamed into place.
    n_buildings : int, default=2000
        Number of buildings (at least 20 so that every class and split is present).
    n_regions : int, default=4
        Number of regions (at least 2).
    image_size : int, default=32
        Chip side in pixels (at least 8).
    random_state : int, default=0
        Seed; the same arguments give the same file content.
    overwrite : bool, default=False
        Replace an existing file. Without it an existing ``path`` raises ``FileExistsError``.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileExistsError, IsADirectoryError, FileNotFoundError, NotADirectoryError
        ``path`` exists (without ``overwrite``), is a folder, or its folder is missing.
    skquake.utils.ResourceLimitError
        The chips cannot be held in the available memory or the file cannot fit in the free
        space of its folder; the message gives both sizes. Nothing is written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skquake.datasets import make_damage_dataset, read_damage_layout
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = make_damage_dataset(Path(tmp.name) / "damage.h5", n_buildings=40, image_size=8)
    >>> read_damage_layout(path)["input_shape"]
    (3, 8, 8)
    >>> tmp.cleanup()
    """
    path = pathlib.Path(path)
    # Check the target before the (slow) simulation, so a refused overwrite costs nothing.
    with atomic_output(path, overwrite=overwrite) as tmp:
        _check_size(path, int(n_buildings), int(image_size))
        rng = np.random.default_rng(random_state)
        data = _simulate(rng, int(n_buildings), int(n_regions), int(image_size))
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["generator"] = (
                f"skquake.datasets.synthetic.make_damage_dataset(n_buildings={n_buildings}, "
                f"n_regions={n_regions}, image_size={image_size}, random_state={random_state})"
            )
            img = f.create_dataset("images", data=data["images"],
                                   chunks=(1,) + data["images"].shape[1:])
            img.attrs["channels"] = list(_IMAGE_CHANNELS)
            img.attrs["scale"] = 1.0 / 255.0
            meta = f.create_dataset("metadata", data=data["metadata"])
            meta.attrs["columns"] = list(DEFAULT_METADATA_COLUMNS)
            lab = f.create_dataset("label", data=data["label"])
            lab.attrs["class_names"] = list(CLASS_NAMES)
            reg = f.create_dataset("region", data=data["region"])
            reg.attrs["region_names"] = [f"region-{i}" for i in range(n_regions)]
            spl = f.create_dataset("split", data=data["split"])
            spl.attrs["split_names"] = list(_SPLITS)
            f.create_dataset("building_id", data=np.arange(n_buildings, dtype=np.int64))
    return path
