"""Distances on the Earth: the great-circle (haversine) distance and local east/north offsets."""
from __future__ import annotations

import numpy as np

__all__ = ["EARTH_RADIUS_KM", "haversine_km", "lonlat_offset", "offset_lonlat"]

#: Mean Earth radius (IUGG), in km.
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lon1, lat1, lon2, lat2):
    """Great-circle distance in km between points given in degrees (broadcast like numpy).

    Parameters
    ----------
    lon1, lat1, lon2, lat2 : float or array-like
        Longitudes and latitudes in degrees (WGS 84 / EPSG:4326).

    Returns
    -------
    float or ndarray
        Distance in km on a sphere of radius :data:`EARTH_RADIUS_KM`.

    Examples
    --------
    >>> round(float(haversine_km(0.0, 0.0, 1.0, 0.0)), 3)  # one degree along the equator
    111.195
    """
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=np.float64)) for v in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    # clip: rounding can push a just above 1 for antipodal points
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def lonlat_offset(lon0, lat0, lon, lat):
    """East and north offsets in km of ``(lon, lat)`` from ``(lon0, lat0)`` on the local tangent plane.

    The azimuthal equidistant projection centred on ``(lon0, lat0)``: the offset's length is the
    great-circle distance (:func:`haversine_km`) and its direction the initial bearing, so a
    point placed back with :func:`offset_lonlat` is the same point.

    Returns
    -------
    east_km, north_km : float or ndarray

    Examples
    --------
    >>> east, north = lonlat_offset(10.0, 45.0, 10.0, 45.1)
    >>> round(float(east), 6), round(float(north), 3)
    (0.0, 11.12)
    """
    lon0, lat0, lon, lat = (np.radians(np.asarray(v, dtype=np.float64)) for v in (lon0, lat0, lon, lat))
    dlon = lon - lon0
    y = np.sin(dlon) * np.cos(lat)
    x = np.cos(lat0) * np.sin(lat) - np.sin(lat0) * np.cos(lat) * np.cos(dlon)
    bearing = np.arctan2(y, x)
    distance = haversine_km(np.degrees(lon0), np.degrees(lat0), np.degrees(lon), np.degrees(lat))
    return distance * np.sin(bearing), distance * np.cos(bearing)


def offset_lonlat(lon0, lat0, east_km, north_km):
    """The point ``east_km`` / ``north_km`` away from ``(lon0, lat0)``: inverse of :func:`lonlat_offset`.

    Returns
    -------
    lon, lat : float or ndarray
        Degrees; longitudes wrapped to [-180, 180).

    Examples
    --------
    >>> lon, lat = offset_lonlat(10.0, 45.0, *lonlat_offset(10.0, 45.0, 10.3, 45.2))
    >>> round(float(lon), 9), round(float(lat), 9)
    (10.3, 45.2)
    """
    lon0, lat0 = np.radians(np.asarray(lon0, dtype=np.float64)), np.radians(np.asarray(lat0, dtype=np.float64))
    east_km, north_km = np.asarray(east_km, dtype=np.float64), np.asarray(north_km, dtype=np.float64)
    delta = np.hypot(east_km, north_km) / EARTH_RADIUS_KM
    bearing = np.arctan2(east_km, north_km)
    lat = np.arcsin(np.sin(lat0) * np.cos(delta) + np.cos(lat0) * np.sin(delta) * np.cos(bearing))
    lon = lon0 + np.arctan2(np.sin(bearing) * np.sin(delta) * np.cos(lat0), np.cos(delta) - np.sin(lat0) * np.sin(lat))
    lon = (np.degrees(lon) + 180.0) % 360.0 - 180.0
    return lon, np.degrees(lat)
