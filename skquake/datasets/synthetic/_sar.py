"""The SAR part of the synthetic QuakeSet world: land cover, backscatter levels, speckle, no-data.

Everything is simulated in decibels on a patch's pixel grid (row, column; pixel centres at whole
numbers) and converted to linear sigma0 with multiplicative gamma speckle at the end.
"""
from __future__ import annotations

import functools

import numpy as np
import scipy.fft

__all__ = ["ENL", "LAND_COVER"]

#: (name, VV dB, VH dB, texture std dB): typical C-band levels per land-cover class
LAND_COVER = (
    ("water", -20.0, -27.0, 1.0),
    ("vegetation", -9.0, -15.0, 1.5),
    ("bare soil", -12.0, -20.0, 1.5),
    ("urban", 0.0, -8.0, 3.0),
)
_LEVELS = np.array([[vv, vh] for _, vv, vh, _ in LAND_COVER])  # (class, channel)
_TEXTURE = np.array([t for *_, t in LAND_COVER])
ENL = 4.4  # equivalent number of looks of Sentinel-1 IW GRD products


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
