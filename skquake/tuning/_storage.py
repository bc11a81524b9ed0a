"""Optuna storages: URLs, password masking and opening an RDB storage with the heartbeat on.

Storage URLs may carry passwords: everything printed or raised by :mod:`skquake.tuning` shows
:func:`mask_url`, and driver messages go through :func:`scrub` first.
"""
from __future__ import annotations

import os
import time
import warnings
from numbers import Integral
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlencode

import optuna
from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ..utils import StrictInterval, validate_params

__all__ = [
    "DEFAULT_STORAGE_FILE",
    "STORAGE_ENV",
    "StorageError",
    "default_storage_url",
    "mask_url",
    "open_storage",
    "scrub",
]

#: File name of the embedded SQLite storage used when no storage URL is given.
DEFAULT_STORAGE_FILE = "skquake-optuna.db"
#: Environment variable read when ``--storage`` is not given (keeps passwords out of ``ps``).
STORAGE_ENV = "SKQUAKE_OPTUNA_STORAGE"
#: Query-string keys that carry a password (compared in lower case), as libpq and MySQL drivers read them.
_PASSWORD_KEYS = frozenset({"password", "passwd", "pwd"})
_MASK = "***"


class StorageError(RuntimeError):
    """An Optuna storage could not be opened; the message shows the URL with its password masked."""


# --------------------------------------------------------------------------- URLs and secrets
def _parse(text: str) -> tuple[URL, str | None] | None:
    """``(SQLAlchemy URL, password as written in text)``, or None when ``text`` is not a URL.

    SQLAlchemy's ``make_url`` ends the password at its first ``@``. A password with an ``@``
    left unquoted (``me:p@ss@host``) then leaks into the host or database, or the port fails to
    parse; such ``@`` are percent-encoded one by one, from the left, until the host and the
    database hold none. The password then runs to the last ``@`` before the host, which may
    hide more than the password (an ``@`` in a database name) but never less.
    """
    head, sep, _ = text.partition("://")
    if not sep:
        return None
    colon = text.find(":", len(head) + len(sep))
    ats = [i for i, char in enumerate(text) if char == "@" and colon != -1 and i > colon]
    for k in range(len(ats) + 1):
        encoded = "".join("%40" if i in ats[:k] else char for i, char in enumerate(text))
        try:
            url = make_url(encoded)
        except (ArgumentError, ValueError):  # ValueError: a "port" that is part of the password
            continue
        if url.password is None:
            if k == 0:
                return url, None
            continue  # the encoding ate the user info: not a reading of this URL
        if "@" not in (url.host or "") + (url.database or "") and k < len(ats):
            return url, text[colon + 1 : ats[k]]
    return None


def _query_secrets(url: URL) -> list[str]:
    return [k for k in url.query if k.lower() in _PASSWORD_KEYS]


def mask_url(url) -> str:
    """``url`` with any password replaced by ``***``.

    The URL is parsed with SQLAlchemy (``make_url``) and rendered with
    ``render_as_string(hide_password=True)``; ``password`` / ``passwd`` / ``pwd`` query
    parameters are masked too. A URL without a password is returned unchanged; text that
    SQLAlchemy cannot parse as a URL keeps only its scheme (``scheme://***``).

    Parameters
    ----------
    url : str or sqlalchemy.engine.URL
        A storage URL.

    Returns
    -------
    str

    Examples
    --------
    >>> mask_url("postgresql+psycopg2://me:s3cret@db.example:5432/optuna")
    'postgresql+psycopg2://me:***@db.example:5432/optuna'
    >>> mask_url("postgresql://db.example/optuna?user=me&password=s3cret")
    'postgresql://db.example/optuna?user=me&password=***'
    """
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
    parsed = _parse(text)
    if parsed is None:
        head, sep, _ = text.partition("://")
        if sep:
            return f"{head}://{_MASK}"
        # Not a URL: a plain path stays readable; anything that might hold user info is hidden.
        return _MASK if "@" in text or "=" in text else text
    parsed_url, _ = parsed
    hidden = _query_secrets(parsed_url)
    if parsed_url.password is None and not hidden:
        return text
    masked = parsed_url.set(query={}).render_as_string(hide_password=True)
    if parsed_url.query:
        pairs = [
            (key, _MASK if key in hidden else value)
            for key, values in parsed_url.query.items()
            for value in ((values,) if isinstance(values, str) else values)
        ]
        masked += "?" + urlencode(pairs, safe="*")
    return masked


def _secrets(text: str) -> list[str]:
    """Every form of the passwords of URL ``text`` (as written, unquoted, quoted), longest first."""
    parsed = _parse(text)
    found = []
    if parsed is None:
        # Not parseable: whatever sits between the user name and the last "@" may be a password.
        rest = text.partition("://")[2]
        found.append(rest.rpartition("@")[0].partition(":")[2])
    else:
        url, raw = parsed
        found += [raw or "", url.password or ""]
        for key in _query_secrets(url):
            values = url.query[key]
            found += [values] if isinstance(values, str) else list(values)
    # Query passwords as written in the text (any quoting) are among its "?"/"&" separated pieces.
    for piece in text.replace("?", "&").split("&"):
        name, sep, value = piece.partition("=")
        if sep and unquote_plus(name).lower() in _PASSWORD_KEYS:
            found.append(value)
    forms = set()
    for secret in filter(None, found):
        forms.update({secret, unquote(secret), unquote_plus(secret), quote(unquote(secret), safe=""),
                      quote_plus(unquote(secret)), quote(unquote(secret), safe=" +")})
    return sorted(filter(None, forms), key=len, reverse=True)


def scrub(text, url) -> str:
    """``text`` with ``url`` masked and every form of its password replaced by ``***``.

    For messages that may quote the URL or its password (driver and SQLAlchemy errors): the
    password is removed as written in the URL, percent-unquoted and quoted.

    Parameters
    ----------
    text : str or exception
        The message.
    url : str
        The storage URL whose password must not appear.
    """
    url_text = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
    text = str(text).replace(url_text, mask_url(url_text))
    for secret in _secrets(url_text):
        text = text.replace(secret, _MASK)
    return text


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


def _normalise_url(storage) -> str:
    if storage is None:
        return default_storage_url()
    storage = os.fspath(storage)
    if "://" not in storage:
        # A bare path means an SQLite file, as with optuna's own CLI.
        path = Path(storage).expanduser()
        if path.is_dir():
            path = path / DEFAULT_STORAGE_FILE
        return f"sqlite:///{path.resolve()}"
    return storage


def _engine_kwargs(url: str, connect_timeout: int) -> dict[str, Any]:
    parsed = _parse(url)
    backend = parsed[0].get_backend_name() if parsed else ""
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if backend in ("postgresql", "mysql"):
        engine_kwargs["connect_args"] = {"connect_timeout": int(connect_timeout)}
    elif backend == "sqlite":
        # Several workers on one SQLite file wait for each other's write locks.
        engine_kwargs["connect_args"] = {"timeout": max(30, int(connect_timeout))}
        db_path = parsed[0].database
        if db_path and db_path != ":memory:" and not Path(db_path).parent.is_dir():
            raise StorageError(
                f"cannot open Optuna storage {mask_url(url)}: directory {Path(db_path).parent} does not exist"
            )
    return engine_kwargs


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
    StorageError
        The storage cannot be opened; the message names the URL with its password masked.
    """
    if isinstance(storage, BaseStorage):
        return storage
    url = _normalise_url(storage)
    grace_period = 3 * heartbeat_interval if grace_period is None else grace_period
    if grace_period <= heartbeat_interval:
        raise ValueError(
            f"grace_period ({grace_period} s) must exceed heartbeat_interval ({heartbeat_interval} s), "
            "or live trials would be failed"
        )
    engine_kwargs = _engine_kwargs(url, connect_timeout)
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
