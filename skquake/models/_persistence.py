"""The saved-model format (``.skq``): a fitted model with what is needed to use it later.

A ``.skq`` file is a zip archive of

* ``manifest.json``: format name and version, the package and library versions, the registry
  model and the parameters it was created with, the task, the input (mode, shape, pooling), the
  training data's fingerprint, the test metrics, the SHA-256 of every other member and a
  checksum of the manifest itself;
* the estimator, without pickle: a deep net (skorch) as ``weights.safetensors`` (its state
  dict) plus ``state.json`` (input shape, classes), rebuilt on load from the registry and its
  parameters; any other estimator as ``estimator.skops`` (:mod:`skops.io`), loaded with an
  explicit list of trusted types (skquake's and scikit-learn's estimators), never
  ``trusted=True``.

Loading refuses a file that is not such an archive, a member whose hash differs, a missing or
unexpected member, an edited manifest and an unknown type in the skops payload, each with a
:class:`ModelFileError` naming the file and what is wrong. The hashes detect corruption and
edits, not a malicious author (nothing is signed): safety against a hostile file comes from
never unpickling it. See ``docs/monitoring.md`` ("Saved models").
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import warnings
import zipfile
import zlib
from pathlib import Path

from sklearn.base import BaseEstimator
from sklearn.utils import all_estimators as sklearn_estimators

from .. import preprocessing
from .._version import __version__
from ..datasets import QuakeSet
from ..utils import atomic_output
from ._registry import create_model, get_model_spec, list_models

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "ModelVersionWarning", "load_model",
           "read_manifest", "save_model"]

FORMAT_NAME = "skquake-model"
#: Bumped when a reader of the previous version could not read the new files.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_SKOPS, _WEIGHTS, _STATE = "estimator.skops", "weights.safetensors", "state.json"
#: Libraries whose major.minor version is compared on load, by payload kind.
_LIBRARIES = {"skops": ("numpy", "scipy", "scikit-learn", "skops"),
              "safetensors": ("numpy", "scikit-learn", "torch", "timm", "skorch", "safetensors")}
#: Non-estimator scikit-learn types that fitted estimators hold (skops does not trust them by default).
_SKLEARN_INTERNALS = ("sklearn.tree._tree.Tree",)
_MAX_MEMBER = 4 << 30  # a member larger than this is not one skquake wrote (zip bombs)


class ModelFileError(ValueError):
    """A file that is not a readable skquake model: foreign, truncated, tampered or too new.

    ``path`` is the file; the message names it and what is wrong.
    """

    def __init__(self, path, problem):
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {problem}")


class ModelVersionWarning(UserWarning):
    """A model saved with another major.minor version of a library than the installed one."""


# ----------------------------------------------------------------------------- helpers
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checksum(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return _sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _encode(value, where):
    """``value`` as JSON, tuples tagged (``input_shape=(4, 32, 32)`` stays a tuple on load)."""
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v, where) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():  # a NumPy scalar
        return value.item()
    raise ValueError(f"{where}={value!r} cannot be stored in a model file: only JSON values "
                     "(numbers, strings, booleans, None, lists, tuples, dicts) can")


def _decode(value):
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v) for v in value["__tuple__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _is_deep(estimator) -> bool:
    # The deep estimators (skquake.models.deep's QuakeNetBase) carry their fitted state in a
    # torch module and name what else they need in _extra_state.
    return hasattr(estimator, "module_") and hasattr(estimator, "_extra_state")


def file_record(path, splits=("train",)) -> dict:
    """The fingerprint of a training file: resolved path, size and SHA-256, splits used.

    Parameters
    ----------
    path : path-like
    splits : sequence of str
        The splits the model was trained on (``("train", "val")``).

    Returns
    -------
    dict
    """
    path = Path(path).resolve()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(path), "size": path.stat().st_size, "sha256": digest.hexdigest(), "splits": list(splits)}


def quakeset_input(path, *, mode: str, pool: int) -> dict:
    """The input a model trained on QuakeSet file ``path`` takes: mode, pool, shape after pooling."""
    with QuakeSet(path, split="all", mode=mode) as ds:
        c, h, w = ds.image_shape
    if h % pool or w % pool:
        raise ValueError(f"pool={pool} does not divide the image size {h} x {w} of {path}")
    return {"mode": mode, "pool": int(pool), "shape": [c, h // pool, w // pool], "source_shape": [c, h, w]}


# ----------------------------------------------------------------------------- saving
def _deep_members(estimator) -> dict:
    # torch: only deep models reach this; `import skquake.models` stays torch-free.
    import torch  # noqa: F401  (torch)
    from safetensors.torch import save as save_tensors  # torch

    estimator.check_is_fitted()
    # clone(): safetensors refuses tensors that share memory (tied weights, views).
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in estimator.module_.state_dict().items()}
    state = {"input_shape": list(estimator.input_shape_), **estimator._extra_state()}
    return {_WEIGHTS: save_tensors(tensors), _STATE: json.dumps(_encode(state, "state")).encode()}


def _check_rebuilds(estimator, model, params):
    """A deep net is rebuilt as ``create_model(model, **params)``: it must be the saved one."""
    rebuilt = create_model(model, **params).get_params(deep=False)
    mine = estimator.get_params(deep=False)
    differ = sorted(k for k in set(rebuilt) | set(mine) if repr(rebuilt.get(k)) != repr(mine.get(k)))
    if differ:
        raise ValueError(
            f"create_model({model!r}, **params) does not rebuild this estimator: parameters {differ} differ; "
            "pass every parameter set on it in params="
        )


def save_model(estimator, path, *, model, task=None, params=None, data=None, splits=("train",),
               mode="bitemporal", pool=1, input_shape=None, metrics=None, interval=None,
               epicentres=None, overwrite=False) -> Path:
    """Write a fitted ``estimator`` to the ``.skq`` file ``path`` (all or nothing).

    Parameters
    ----------
    estimator : fitted estimator
    path : path-like
        The file to write (a ``.skq`` zip archive).
    model : str
        Its registry name (``skquake.list_models()``); a deep net is rebuilt from it on load.
    task : str, optional
        What the file says it predicts (``"magnitude-bitemporal"``); default the model's
        registry task.
    params : dict, optional
        The parameters it was created with (``create_model(model, **params)``): JSON values.
    data : path-like, optional
        The QuakeSet file it was trained on: its fingerprint (:func:`file_record`) and input
        (:func:`quakeset_input`) are recorded.
    splits : sequence of str, default=("train",)
        The splits of ``data`` it was trained on.
    mode : {"bitemporal", "single"}, default="bitemporal"
    pool : int, default=1
        The average-pooling factor applied to the images before the model.
    input_shape : tuple, optional
        ``(C, H, W)`` after pooling, when ``data`` is not a file.
    metrics : dict, optional
        ``{metric: value}`` on the test split.
    interval : dict, optional
        A split-conformal prediction interval around the estimator's predictions (JSON
        values; ``skquake fit --interval``): at least ``half_width``, the interval being
        ``prediction -/+ half_width``, and ``confidence_level``. Stored as the manifest's
        ``interval`` (absent without one).
    epicentres : path-like, optional
        The epicentre table the targets of an epicentre model came from (a file without
        epicentre attributes): its fingerprint is recorded as the manifest's
        ``data["epicentres"]`` (path, size, SHA-256).
    overwrite : bool, default=False

    Returns
    -------
    pathlib.Path
    """
    spec = get_model_spec(model)
    params = dict(params or {})
    path = Path(path)
    if interval is not None and not {"half_width", "confidence_level"} <= set(interval):
        raise ValueError(f"interval={interval!r} needs at least the keys 'half_width' and 'confidence_level'")
    if _is_deep(estimator):
        _check_rebuilds(estimator, model, params)
        members, kind = _deep_members(estimator), "safetensors"
    else:
        # torch: skops.io imports torch where it is installed; `import skquake.models` stays torch-free.
        import skops.io as sio

        members, kind = {_SKOPS: sio.dumps(estimator)}, "skops"
    if data is not None:
        data_record = file_record(data, splits)
        input_record = quakeset_input(data, mode=mode, pool=pool)
    else:
        data_record = None
        shape = None if input_shape is None else [int(s) for s in input_shape]
        input_record = {"mode": mode, "pool": int(pool), "shape": shape, "source_shape": None}
    if epicentres is not None:
        table = file_record(epicentres)
        del table["splits"]  # a table has none
        data_record = {**(data_record or {}), "epicentres": table}
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": {"skquake": __version__, "python": platform.python_version(),
                     **{lib: _version(lib) for lib in _LIBRARIES[kind]}},
        "model": {"name": model, "family": spec.family, "registry_task": spec.task,
                  "params": _encode(params, "params"), "class": type(estimator).__qualname__},
        "task": task or spec.task,
        "input": input_record,
        "data": data_record,
        "metrics": {k: (None if v != v else float(v)) for k, v in (metrics or {}).items()},  # NaN -> null
        "payload": kind,
        "members": {name: {"sha256": _sha256(blob), "size": len(blob)} for name, blob in members.items()},
    }
    if interval is not None:  # only then: the files without intervals stay as they were
        manifest["interval"] = _encode(interval, "interval")
    manifest["checksum"] = _checksum(manifest)
    with atomic_output(path, overwrite=overwrite) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
            for name, blob in members.items():
                zf.writestr(name, blob)
    return path


# ----------------------------------------------------------------------------- loading
def _read_archive(path) -> tuple[dict, dict]:
    """``(manifest, {member: bytes})`` of a checked archive, or :class:`ModelFileError`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            if MANIFEST not in infos:
                raise ModelFileError(path, f"no {MANIFEST}: not a skquake model file")
            if any(i.file_size > _MAX_MEMBER for i in infos.values()):
                raise ModelFileError(path, "a member is larger than any skquake model file holds")
            raw = zf.read(MANIFEST)
            blobs = {name: zf.read(name) for name in infos if name != MANIFEST}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError) as exc:
        raise ModelFileError(path, f"cannot be read as a .skq zip archive (damaged, truncated or not a skquake "
                                   f"model file): {exc}") from None
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(path, f"{MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ModelFileError(path, f"{MANIFEST} is not a {FORMAT_NAME!r} manifest: not a skquake model file")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(path, f"format version {version!r}; this skquake ({__version__}) reads versions "
                                   f"up to {FORMAT_VERSION}: upgrade skquake to read it")
    if manifest.get("checksum") != _checksum(manifest):
        raise ModelFileError(path, f"{MANIFEST} was edited after the file was written (its checksum differs)")
    expected = manifest.get("members") or {}
    missing = sorted(set(expected) - set(blobs))
    extra = sorted(set(blobs) - set(expected))
    if missing or extra:
        raise ModelFileError(path, f"members {missing} are missing" if missing else f"unexpected members {extra}")
    for name, record in expected.items():
        if _sha256(blobs[name]) != record.get("sha256"):
            raise ModelFileError(path, f"member {name!r} does not match its SHA-256 in the manifest "
                                       "(corrupted or tampered)")
    return manifest, blobs


def _check_versions(path, manifest):
    for lib, saved in (manifest.get("versions") or {}).items():
        if lib == "python" or saved is None:
            continue
        installed = __version__ if lib == "skquake" else _version(lib)
        if installed is None:
            continue  # the payload's import names the missing library
        if saved.split(".")[:2] != installed.split(".")[:2]:
            warnings.warn(
                f"{path} was saved with {lib} {saved}, {lib} {installed} is installed: its predictions "
                "may differ; retrain it with `skquake fit` to be sure", ModelVersionWarning, stacklevel=3,
            )


def _trusted_types() -> list:
    """The types a skops payload may hold, by name: skquake's and scikit-learn's estimators.

    skquake's are its preprocessing transformers and every estimator inside the registered
    shallow models (built by their factories, not fitted); not ``all_estimators()``, which
    imports every module of the package.
    """
    classes = [cls for _, cls in sklearn_estimators()]
    classes += [obj for obj in vars(preprocessing).values() if isinstance(obj, type) and issubclass(obj, BaseEstimator)]
    for name in list_models(family="shallow"):
        estimator = create_model(name)
        classes.append(type(estimator))
        classes += [type(v) for v in estimator.get_params(deep=True).values() if isinstance(v, BaseEstimator)]
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in classes}
    return sorted(names | set(_SKLEARN_INTERNALS))


def _load_skops(path, blob, trusted):
    # torch: skops.io imports torch where it is installed; `import skquake.models` stays torch-free.
    import skops.io as sio

    allowed = set(_trusted_types()) | set(trusted)
    unknown = [t for t in sio.get_untrusted_types(data=blob) if t not in allowed]
    if unknown:
        raise ModelFileError(path, f"the estimator holds types that are neither skquake's nor scikit-learn's: "
                                   f"{unknown}; load_model(path, trusted=[...]) loads it if you trust its author")
    try:
        return sio.loads(blob, trusted=sorted(allowed))
    except Exception as exc:  # skops raises what the payload's objects raise
        raise ModelFileError(path, f"{_SKOPS} cannot be read: {type(exc).__name__}: {exc}") from None


def _load_deep(path, manifest, blobs):
    # torch: only deep models reach this.
    from safetensors.torch import load as load_tensors  # torch

    try:
        state = _decode(json.loads(blobs[_STATE]))
        tensors = load_tensors(blobs[_WEIGHTS])
        estimator = create_model(manifest["model"]["name"], **_decode(manifest["model"]["params"]))
        estimator.input_shape_ = tuple(int(s) for s in state["input_shape"])
        estimator.n_features_in_ = estimator._n_features(estimator.input_shape_)
        estimator._restore_extra_state(state)
        estimator.initialize()
        estimator.module_.load_state_dict(tensors)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ModelFileError(path, f"the weights do not fit model {manifest['model'].get('name')!r}: "
                                   f"{type(exc).__name__}: {exc}") from None
    return estimator


def read_manifest(path) -> dict:
    """The checked manifest of the model file ``path`` (see :func:`load_model` for the checks)."""
    manifest, _ = _read_archive(path)
    return manifest


def load_model(path, *, trusted=(), return_manifest=False):
    """Read a model written by :func:`save_model`, checking it first.

    Parameters
    ----------
    path : path-like
    trusted : sequence of str, default=()
        Further type names (``"module.Class"``) to accept in a skops payload, beyond skquake's
        and scikit-learn's estimators. Only for files whose author you trust.
    return_manifest : bool, default=False
        Also return the manifest.

    Returns
    -------
    estimator, or (estimator, manifest)

    Raises
    ------
    ModelFileError
        Not a skquake model file (not a zip, no manifest, another format), a newer format
        version, an edited manifest, a member missing, unexpected or not matching its hash,
        an unknown type in the payload, weights that do not fit the model.

    Warns
    -----
    ModelVersionWarning
        skquake or a library has another major.minor version than when the file was written.
    """
    manifest, blobs = _read_archive(path)
    _check_versions(path, manifest)
    if manifest.get("payload") == "skops" and _SKOPS in blobs:
        estimator = _load_skops(path, blobs[_SKOPS], list(trusted))
    elif manifest.get("payload") == "safetensors" and {_WEIGHTS, _STATE} <= set(blobs):
        estimator = _load_deep(path, manifest, blobs)
    else:
        raise ModelFileError(path, f"unknown payload {manifest.get('payload')!r} with members {sorted(blobs)}")
    return (estimator, manifest) if return_manifest else estimator

