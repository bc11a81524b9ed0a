"""The changes of the synthetic QuakeSet world, each with the mask of where it is substantial.

* the earthquake: its hypocentre depth (:func:`draw_depths`), the shape of its surface signature
  (:func:`event_signature`, shared by every patch of the event) and the signature on one patch,
  centred on the epicentre's pixel position (:func:`earthquake_change`);
* the unrelated changes of one acquisition date (:func:`unrelated_changes`).

"Substantial" is the readers' definition (:data:`skquake.datasets._masks.SUBSTANTIAL_CHANGE_DB`):
an expected absolute change of at least 1 dB, averaged over VV and VH. Lengths are in pixels of
the patch grid (pixel centres at whole numbers).
"""
from __future__ import annotations

from math import erf

import numpy as np

from .._masks import SUBSTANTIAL_CHANGE_DB
from ._sar import _ellipse_d2, _smooth_fields

__all__ = ["DEPTH_DISTRIBUTION", "draw_depths", "earthquake_change", "event_signature",
           "unrelated_changes"]

# Mean dB change per class and channel inside the earthquake area (per unit strength).
_QUAKE_BIAS = np.array([[0.0, 0.0], [0.3, -0.7], [0.5, 0.2], [-1.0, -0.6]])


def _mean_abs_normal(mu):
    """E|Z| for Z ~ N(mu, 1) (the folded normal's mean)."""
    return np.sqrt(2.0 / np.pi) * np.exp(-0.5 * mu**2) + mu * np.vectorize(erf)(mu / np.sqrt(2.0))


# Per class: the expected |dB change| of the signature per unit weight, averaged over VV and VH
# (each channel's change is a unit-variance field around the class's bias).
_QUAKE_MEAN_ABS = _mean_abs_normal(_QUAKE_BIAS).mean(axis=1).astype(np.float32)

#: The hypocentre depth of a synthetic event (km), as in a catalogue of shallow crustal events
#: (the ISC bulletin for mb > 4 earthquakes that change the surface): a share fixed at the
#: bulletin's default depth (poorly constrained shallow events are reported at 10 km), the rest
#: log-normal, clipped to a range and rounded to 0.1 km.
DEPTH_DISTRIBUTION = {
    "default_depth_km": 10.0,
    "default_share": 0.3,
    "lognormal_median_km": 12.0,
    "lognormal_sigma": 0.6,
    "range_km": (1.0, 70.0),
}
# The radius a source at 1 km depth adds to the signature, as a fraction of the patch width. A
# toy scale: real shaking spreads over kilometres (hundreds of 10 m pixels), which would not fit
# a patch; the world is shrunk so that the signature stays a visible blob.
_DEPTH_SPREAD = 0.018
_RADIUS_AT_MB_5_6 = 0.30  # of the patch width, for a source at the surface
# Peak scale of a typical event (mb 5.6 at 10 km, median size): dividing by it keeps the mean
# strength where it was before depth entered (4 dB x the magnitude factor).
_TYPICAL_RATIO = _RADIUS_AT_MB_5_6 / np.hypot(_RADIUS_AT_MB_5_6, _DEPTH_SPREAD * 10.0)


def draw_depths(rng, n):
    """``n`` hypocentre depths in km drawn from :data:`DEPTH_DISTRIBUTION`."""
    d = DEPTH_DISTRIBUTION
    fixed = rng.random(n) < d["default_share"]
    other = rng.lognormal(np.log(d["lognormal_median_km"]), d["lognormal_sigma"], n)
    depths = np.where(fixed, d["default_depth_km"], np.clip(other, *d["range_km"]))
    return np.round(depths, 1)


def event_signature(rng, magnitude, depth_km, size, signal_strength):
    """The event's signature shape: ``(radius, peak_db, aspect, theta)`` on a ``size`` px patch.

    The surface effect of an earthquake (ground shaking, and with it collapse, landslides,
    roughening) falls with the distance to the hypocentre, ``sqrt(r**2 + h**2)`` for a point
    at epicentral distance ``r`` above a source at depth ``h``, not with ``r`` alone. A deeper
    source therefore spreads its surface effect wider and weaker: the radius is
    ``sqrt(r_m**2 + (c * h)**2)``, where ``r_m`` grows with the magnitude (doubling every 0.6
    units, times a log-normal factor for the rupture's size), and the peak change, which grows
    with the magnitude too, is scaled by ``r_m / radius``, the ratio of the nearest distances
    to the source without and with depth (shaking decays like one over distance). A shallow
    large rupture is barely affected; a small deep one is faint and wide.
    """
    radius_m = (size * _RADIUS_AT_MB_5_6 * 2.0 ** ((magnitude - 5.6) / 0.6)
                * rng.lognormal(0.0, 0.35))
    radius = np.hypot(radius_m, _DEPTH_SPREAD * size * depth_km)
    peak = (4.0 * signal_strength * max(0.3, 1.0 + 0.8 * (magnitude - 5.6))
            * (radius_m / radius) / _TYPICAL_RATIO)
    radius = float(np.clip(radius, 0.02 * size, 2.0 * size))
    return radius, float(peak), rng.uniform(1.0, 3.0), rng.uniform(0, np.pi)


def earthquake_change(rng, signature, classes, size, cy, cx):
    """dB change (2, size, size) of the signature centred at pixel ``(cy, cx)``, and its mask.

    The centre may lie outside the patch (the patch then sees the signature's edge). Inside the
    area urban pixels darken (collapse), vegetation turns towards bare soil (VH drops), bare soil
    brightens (roughening), plus a random-sign change; a patchy envelope and a per-patch
    attenuation (local geology) modulate it. The mask (uint8) marks where the expected absolute
    change, envelope x the class's mean |change| averaged over VV and VH, is substantial.
    """
    radius, peak, aspect, theta = signature
    d2 = _ellipse_d2(size, cy, cx, radius, aspect, theta)
    patchy = np.clip(0.6 + 0.4 * _smooth_fields(rng, 1, size, max(1.0, 0.03 * size))[0], 0, 1)
    weight = np.float32(peak * rng.uniform(0.5, 1.2)) * np.exp(np.float32(-0.5) * d2) * patchy
    z = _smooth_fields(rng, 2, size, 1.5)
    z[1] = 0.6 * z[0] + 0.8 * z[1]  # VH change partly follows VV
    z += _QUAKE_BIAS[classes].transpose(2, 0, 1)
    z *= weight[None]
    mask = weight * _QUAKE_MEAN_ABS[classes] >= SUBSTANTIAL_CHANGE_DB
    return z, mask.astype(np.uint8)


def unrelated_changes(rng, classes, size):
    """dB change (2, size, size) of one date that has nothing to do with an earthquake, and its mask.

    Soil-moisture / vegetation drift on vegetation and bare soil (small: never substantial),
    plus a few flat-topped blobs (ploughed fields, floods, construction) with a random step;
    the mask (uint8) marks where a blob's mean |step| over VV and VH times its envelope is
    substantial.
    """
    soil = ((classes == 1) | (classes == 2)).astype(np.float32)
    drift = rng.normal(0.0, 0.35, (2, 1, 1)).astype(np.float32) + np.float32(0.3) * _smooth_fields(
        rng, 1, size, size * 0.2)
    delta = drift * soil
    mask = np.zeros((size, size), dtype=bool)
    for _ in range(rng.poisson(1.5)):
        # exp(-d^4 / 2): a flat-topped blob with a sharp rim, like a field or a building site
        cy, cx = rng.uniform(0, size, 2)
        d2 = _ellipse_d2(size, cy, cx, size * rng.uniform(0.03, 0.08), rng.uniform(1, 2.5),
                         rng.uniform(0, np.pi))
        step = rng.normal(0.0, 3.0)
        steps = np.array([step, step + rng.normal(0, 1)], dtype=np.float32)
        envelope = np.exp(np.float32(-0.5) * d2 * d2)
        delta += envelope[None] * steps[:, None, None]
        mask |= envelope * np.abs(steps).mean() >= SUBSTANTIAL_CHANGE_DB
    return delta, mask.astype(np.uint8)
