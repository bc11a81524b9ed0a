"""Optuna storages: which URL a storage argument means, and opening it with the heartbeat on.

Storage URLs may carry passwords: :mod:`skquake.tuning._secrets` parses them as SQLAlchemy
does, masks them (:func:`mask_url`) and scrubs every text that may quote them; every storage
is opened and used inside its :func:`hide_secrets`.
"""
from __future__ import annotations

import os
import time
import warnings
from numbers import Integral
from pathlib import Path
from typing import Any
from urllib.parse import quote

import optuna
from optuna.storages import BaseStorage, InMemoryStorage, JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import NoSuchModuleError

from ..utils import StrictInterval, validate_params
from ._secrets import StorageError, hide_secrets, mask_url, parse_url, scrub

__all__ = [
    "DEFAULT_STORAGE_FILE",
    "STORAGE_ENV",
    "StorageError",
    "default_storage_url",
    "describe_storage",
    "hide_secrets",
    "mask_url",
    "open_storage",
    "rdb_url",
    "scrub",
    "storage_url",
]

#: File name of the embedded SQLite storage used when no storage URL is given.
DEFAULT_STORAGE_FILE = "skquake-optuna.db"
#: Environment variable read when ``--storage`` is not given (keeps passwords out of ``ps``).
STORAGE_ENV = "SKQUAKE_OPTUNA_STORAGE"
#: SQLAlchemy backend -> DBAPI drivers tried, in order, when a URL names none and SQLAlchemy's
#: default driver is not installed (SQLAlchemy 2.1 made psycopg 3 the default for postgresql://;
#: skquake's extra installs psycopg2).
_DRIVERS = {"postgresql": ("psycopg2", "psycopg", "pg8000"), "mysql": ("mysqldb", "pymysql", "mysqlconnector")}
#: Driver module -> how to install it (skquake's extra where it has one).
_INSTALL = {"psycopg2": "pip install 'skquake[postgres]' (installs psycopg2)"}
_URL_FORM = (
    "DIALECT[+DRIVER]://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE (percent-encode '@', ':' and '/' "
    "in the user name and password) or the path of an SQLite file"
)
_FILE_HINT = (
    "pass an SQLite file (its path, or sqlite:///PATH/FILE.db; the default is "
    f"sqlite:///<current folder>/{DEFAULT_STORAGE_FILE}) or a database server's URL"
)


# --------------------------------------------------------------------------- storage
def default_storage_url(directory=None) -> str:
    """``sqlite:///<directory>/skquake-optuna.db`` (``directory`` defaults to the current one).

    Parameters
    ----------
    directory : path, optional
        Folder of the SQLite file.

    Returns
    -------
    str
    """
    directory = Path.cwd() if directory is None else Path(directory)
    return f"sqlite:///{(directory / DEFAULT_STORAGE_FILE).resolve()}"


def _in_memory(url: URL) -> bool:
    """Whether an SQLite URL names an in-memory database (as SQLAlchemy's pysqlite dialect reads it)."""
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory" or database.startswith("file::memory:")


def _missing_module(dialect) -> str | None:
    """The module a SQLAlchemy dialect's driver needs and cannot import, or None."""
    load = getattr(dialect, "import_dbapi", None) or dialect.dbapi  # SQLAlchemy 2 / 1.4
    try:
        load()
    except ImportError as exc:
        return exc.name or str(exc)
    return None


def _with_driver(url: URL) -> URL:
    """``url`` with an installed driver: as given, or, when it names none and SQLAlchemy's default
    is missing, the first installed one of ``_DRIVERS``; else a :class:`StorageError` naming the
    missing module and what installs it."""
    try:
        dialect = url.get_dialect()
    except NoSuchModuleError:
        raise StorageError(
            f"cannot open Optuna storage {mask_url(url)}: SQLAlchemy knows no database {url.drivername!r}; "
            f"expected {_URL_FORM}"
        ) from None
    missing = _missing_module(dialect)
    if missing is None:
        return url
    backend = url.get_backend_name()
    tried, installed = {url.get_driver_name(): missing}, None
    for driver in _DRIVERS.get(backend, ()):
        candidate = url.set(drivername=f"{backend}+{driver}")
        try:
            tried[driver] = _missing_module(candidate.get_dialect())
        except NoSuchModuleError:  # a driver this SQLAlchemy version does not know
            continue
        if tried[driver] is None:
            installed = candidate
            break
    if "+" not in url.drivername and installed is not None:
        return installed
    if "+" in url.drivername:
        other = f", or use the installed {installed.drivername}://" if installed is not None else ""
        raise StorageError(
            f"cannot open Optuna storage {mask_url(url)}: its driver {url.get_driver_name()!r} needs the Python "
            f"module {missing!r}, which is not installed; {_how_to_install(missing)}{other}"
        )
    modules = [m for m in dict.fromkeys(tried.values()) if m]
    preferred = next((tried[d] for d in _DRIVERS.get(backend, ()) if tried.get(d)), missing)
    raise StorageError(
        f"cannot open Optuna storage {mask_url(url)}: the URL names no driver ({backend}+DRIVER://) and no "
        f"{backend} driver is installed (SQLAlchemy's default is {url.get_driver_name()!r}; Python modules "
        f"missing: {', '.join(modules)}); {_how_to_install(preferred)}"
    )


def _how_to_install(module: str) -> str:
    return _INSTALL.get(module, f"install the Python package that provides {module!r}")


def _connect_string(url: URL) -> str:
    """``url`` as handed to Optuna and SQLAlchemy, with the user name and password percent-encoded whole.

    SQLAlchemy renders a password with only ``:@/`` quoted; Optuna passes the URL through
    ``str.format`` (its ``{SCHEMA_VERSION}`` template), which a ``{`` in a password would break
    with a message quoting part of it.
    """
    if url.username is None and url.password is None:
        return url.render_as_string(hide_password=False)
    anonymous = URL.create(url.drivername, host=url.host, port=url.port, database=url.database, query=url.query)
    scheme, _, rest = anonymous.render_as_string(hide_password=False).partition("://")
    password = "" if url.password is None else ":" + quote(str(url.password), safe="")
    return f"{scheme}://{quote(url.username or '', safe='')}{password}@{rest}"


def storage_url(storage) -> str:
    """The SQLAlchemy URL a storage argument means, checked before anything is opened.

    Parameters
    ----------
    storage : str, path or None
        A URL, the path of an SQLite file (a folder gets ``skquake-optuna.db`` inside), or None
        for ``sqlite:///<cwd>/skquake-optuna.db``.

    Returns
    -------
    str
        The URL SQLAlchemy reads exactly as skquake does (a password percent-encoded whole), with
        an installed driver (``postgresql://`` becomes ``postgresql+psycopg2://`` when psycopg2,
        not SQLAlchemy's default psycopg, is installed).

    Raises
    ------
    ValueError
        ``storage`` is not a URL SQLAlchemy can read, or an in-memory SQLite database (it cannot
        be resumed or shared, and loses every trial).
    StorageError
        The database's driver is not installed (the message names the module and the extra).
    """
    if storage is None:
        return default_storage_url()
    text = os.fspath(storage)
    if "://" not in text:
        # A bare path means an SQLite file, as with optuna's own CLI.
        path = Path(text).expanduser()
        if path.is_dir():
            path = path / DEFAULT_STORAGE_FILE
        return f"sqlite:///{path.resolve()}"
    parsed = parse_url(text)
    if parsed is None:
        raise ValueError(f"cannot read the storage URL {mask_url(text)}: expected {_URL_FORM}")
    url = parsed[0]
    if url.get_backend_name() == "sqlite" and _in_memory(url):
        raise ValueError(
            f"storage {mask_url(text)} is an in-memory SQLite database: it vanishes with the process, so the "
            "study could not be resumed or shared and every trial would be lost (Optuna's heartbeat thread "
            f"would not even see its tables); {_FILE_HINT}"
        )
    return _connect_string(_with_driver(url))


def _engine_kwargs(url: str, connect_timeout: int) -> dict[str, Any]:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if backend in ("postgresql", "mysql"):
        engine_kwargs["connect_args"] = {"connect_timeout": int(connect_timeout)}
    elif backend == "sqlite":
        # Several workers on one SQLite file wait for each other's write locks.
        engine_kwargs["connect_args"] = {"timeout": max(30, int(connect_timeout))}
        db_path = parsed.database
        if not Path(db_path).parent.is_dir():
            raise StorageError(
                f"cannot open Optuna storage {mask_url(url)}: directory {Path(db_path).parent} does not exist"
            )
    return engine_kwargs


def rdb_url(storage) -> str | None:
    """The URL of an Optuna RDB storage (also behind Optuna's cache wrapper), or None."""
    backend = getattr(storage, "_backend", storage)
    url = getattr(backend, "url", None) if isinstance(backend, RDBStorage) else None
    return url if isinstance(url, str) else None


def describe_storage(storage) -> str:
    """Where a storage keeps its studies, for summaries: a URL with its password masked, a file, or a kind.

    Parameters
    ----------
    storage : optuna storage, str, path or None
        An opened storage, or a storage argument of :func:`open_storage`.

    Returns
    -------
    str

    Examples
    --------
    >>> describe_storage("postgresql+psycopg2://me:s3cret@db/optuna")
    'postgresql+psycopg2://me:***@db/optuna'
    >>> import optuna
    >>> describe_storage(optuna.storages.InMemoryStorage())
    'in memory (optuna.storages.InMemoryStorage: lost when the process ends)'
    """
    if not isinstance(storage, BaseStorage):
        try:
            return mask_url(storage_url(storage))
        except (ValueError, StorageError):
            return mask_url(os.fspath(storage))
    url = rdb_url(storage)
    if url is not None:
        return mask_url(url)
    inner = getattr(storage, "_backend", None)
    if isinstance(storage, JournalStorage):
        path = getattr(inner, "_file_path", None)
        return f"journal file {path}" if path else f"journal ({type(inner).__name__})"
    if isinstance(storage, InMemoryStorage) or isinstance(inner, InMemoryStorage):
        return "in memory (optuna.storages.InMemoryStorage: lost when the process ends)"
    return f"{type(storage).__module__}.{type(storage).__qualname__}"


@validate_params(
    {
        "storage": [str, os.PathLike, BaseStorage, None],
        "heartbeat_interval": [StrictInterval(Integral, 1, None, closed="left")],
        "grace_period": [StrictInterval(Integral, 1, None, closed="left"), None],
        "max_retry": [StrictInterval(Integral, 0, None, closed="left")],
        "connect_timeout": [StrictInterval(Integral, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def open_storage(
    storage=None,
    *,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    max_retry: int = 1,
    connect_timeout: int = 10,
):
    """Open (and create the tables of) an Optuna RDB storage with the heartbeat switched on.

    Parameters
    ----------
    storage : str, path, optuna storage or None
        SQLAlchemy URL (``sqlite:///file.db``, ``postgresql+psycopg2://user@host/db``), a path
        to an SQLite file (a directory gets ``skquake-optuna.db`` inside), an existing optuna
        storage (returned unchanged), or None for ``sqlite:///<cwd>/skquake-optuna.db``.
        In-memory SQLite URLs (``sqlite://``, ``sqlite:///:memory:``) are refused.
    heartbeat_interval : int
        Seconds between heartbeats of a running trial.
    grace_period : int, optional
        Seconds without heartbeat after which a running trial counts as dead (its worker was
        killed) and is failed; default ``3 * heartbeat_interval``.
    max_retry : int
        How many times a dead worker's trial is re-queued with the same parameters.
    connect_timeout : int
        Seconds to wait for a database server before giving up.

    Returns
    -------
    optuna.storages.BaseStorage

    Raises
    ------
    ValueError
        ``storage`` is not a readable URL, or an in-memory SQLite database (see :func:`storage_url`).
    StorageError
        The storage cannot be opened (driver missing, server unreachable, ...); the message names
        the URL with its password masked and carries no part of it.
    """
    if isinstance(storage, BaseStorage):
        return storage
    url = storage_url(storage)
    grace_period = 3 * heartbeat_interval if grace_period is None else grace_period
    if grace_period <= heartbeat_interval:
        raise ValueError(
            f"grace_period ({grace_period} s) must exceed heartbeat_interval ({heartbeat_interval} s), "
            "or live trials would be failed"
        )
    engine_kwargs = _engine_kwargs(url, connect_timeout)
    with hide_secrets(url):
        for attempt in range(5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return RDBStorage(
                        url,
                        engine_kwargs=engine_kwargs,
                        heartbeat_interval=int(heartbeat_interval),
                        grace_period=int(grace_period),
                        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
                    )
            except Exception as exc:  # SQLAlchemy / driver errors may quote the URL with its password
                text = str(exc).lower()
                # Workers started together on an empty database race to create Optuna's tables
                # and types; the loser sees "already exists" and only has to open them again.
                if attempt < 4 and ("already exists" in text or "duplicate key" in text):
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise StorageError(
                    f"cannot open Optuna storage {mask_url(url)}: {type(exc).__name__}: {scrub(exc, url)}"
                ) from None
