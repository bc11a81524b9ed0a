"""Storage URLs carry passwords: parse them as SQLAlchemy does, mask them, scrub every text.

One mechanism keeps a password out of everything skquake shows or stores:

* :func:`parse_url` reads a URL the way SQLAlchemy's ``make_url`` does (passwords with ``/``,
  ``:``, ``%`` or an unquoted ``@``, user names such as Azure's ``admin@server``);
  :func:`mask_url` renders it with ``render_as_string(hide_password=True)``;
* :func:`scrub` removes the password from any text (a driver's message, a traceback), as
  written, percent-encoded in any way, or backslash-escaped (``repr``, JSON, libpq);
* :func:`hide_secrets` is the context every storage is used in: while it is active, log
  records (Optuna's, SQLAlchemy's, anyone's), warnings and tracebacks of background threads
  (Optuna's heartbeat) are scrubbed, and an exception that leaves it carrying a database's
  text is re-raised as a :class:`StorageError` with scrubbed text and no exception chain.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
import warnings
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import unquote, unquote_plus, urlencode

import optuna
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

__all__ = ["MASK", "StorageError", "hide_secrets", "mask_url", "parse_url", "scrub"]

#: Query-string keys that carry a password (compared in lower case), as libpq and MySQL drivers read them.
_PASSWORD_KEYS = frozenset({"password", "passwd", "pwd"})
#: What a password is replaced with.
MASK = "***"
#: Top-level modules of DBAPI drivers: their exceptions carry the server's text.
_DBAPI_MODULES = frozenset({"psycopg2", "psycopg", "pg8000", "asyncpg", "pymysql", "MySQLdb", "mysql",
                            "mariadb", "sqlite3", "cx_Oracle", "oracledb", "pyodbc"})


class StorageError(RuntimeError):
    """An Optuna storage could not be opened or used; the message shows the URL with its password masked."""


# --------------------------------------------------------------------------- parsing
def parse_url(text: str) -> tuple[URL, str | None] | None:
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


def _text(url) -> str:
    return url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)


def _query_secrets(url: URL) -> list[str]:
    return [k for k in url.query if k.lower() in _PASSWORD_KEYS]


def mask_url(url) -> str:
    """``url`` with any password replaced by ``***``.

    The URL is parsed with SQLAlchemy (``make_url``) and rendered with
    ``render_as_string(hide_password=True)``; ``password`` / ``passwd`` / ``pwd`` query
    parameters are masked too. A URL without a password, or masked already, is returned
    unchanged; text that SQLAlchemy cannot parse as a URL keeps only its scheme (``scheme://***``).

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
    text = _text(url)
    parsed = parse_url(text)
    if parsed is None:
        head, sep, _ = text.partition("://")
        if sep:
            return f"{head}://{MASK}"
        # Not a URL: a plain path stays readable; anything that might hold user info is hidden.
        return MASK if "@" in text or "=" in text else text
    parsed_url, _ = parsed
    hidden = [key for key in _query_secrets(parsed_url) if parsed_url.query[key] != MASK]
    if parsed_url.password in (None, MASK) and not hidden:
        return text  # nothing (left) to hide: a masked URL is returned as it is
    hidden = _query_secrets(parsed_url)
    masked = parsed_url.set(query={}).render_as_string(hide_password=True)
    if parsed_url.query:
        pairs = [
            (key, MASK if key in hidden else value)
            for key, values in parsed_url.query.items()
            for value in ((values,) if isinstance(values, str) else values)
        ]
        masked += "?" + urlencode(pairs, safe="*")
    return masked


# --------------------------------------------------------------------------- scrubbing
def _secrets(text: str) -> set[str]:
    """The passwords of URL ``text``: as written and percent-decoded."""
    parsed = parse_url(text)
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
    return {form for secret in found if secret for form in (secret, unquote(secret), unquote_plus(secret))}


def _char_pattern(char: str) -> str:
    """Regex of one password character in every form a message may show it in."""
    code = ord(char)
    forms = {
        re.escape(char),
        re.escape("\\" + char),                                  # backslash-escaped (libpq, repr)
        "(?i:" + "".join(f"%{b:02x}" for b in char.encode("utf-8", "surrogatepass")) + ")",  # URL, any case
        re.escape(repr(char)[1:-1]),                             # \n, \x07, \\ ...
        re.escape(json.dumps(char)[1:-1]),                       # \", \u00e9 ...
        f"(?i:\\\\u{code:04x})" if code < 0x10000 else f"(?i:\\\\U{code:08x})",
    }
    if code < 0x100:
        forms.add(f"(?i:\\\\x{code:02x})")
    if char == " ":
        forms.add(r"\+")                                         # quote_plus
    return "(?:" + "|".join(sorted(forms, key=len, reverse=True)) + ")"


@lru_cache(maxsize=64)
def _secret_regex(url_text: str):
    """One regex matching every password of ``url_text`` in any of its encodings, or None."""
    secrets = sorted(_secrets(url_text), key=len, reverse=True)
    if not secrets:
        return None
    return re.compile("|".join("".join(map(_char_pattern, secret)) for secret in secrets))


def scrub(text, url) -> str:
    """``text`` with ``url`` masked and every form of its password replaced by ``***``.

    For messages that may quote the URL or its password (driver and SQLAlchemy errors,
    tracebacks): the password is removed as written in the URL and percent-decoded, each of its
    characters as it is, percent-encoded (any case), ``+`` for a space, or backslash-escaped.

    Parameters
    ----------
    text : str or exception
        The message.
    url : str or sqlalchemy.engine.URL
        The storage URL whose password must not appear.

    Returns
    -------
    str

    Examples
    --------
    >>> scrub("password 'p@ss/w' (p%40ss%2fw) rejected", "postgresql://me:p%40ss%2Fw@db/x")
    "password '***' (***) rejected"
    """
    url_text = _text(url)
    text = str(text)
    if not url_text:
        return text
    text = text.replace(url_text, mask_url(url_text))
    regex = _secret_regex(url_text)
    return text if regex is None else regex.sub(MASK, text)


# --------------------------------------------------------------------------- the guard
_lock = threading.RLock()
#: URLs of the storages in use (one entry per active hide_secrets; they nest).
_active: list[str] = []
#: The hooks replaced while a hide_secrets is active: name -> previous value.
_saved: dict = {}


def _scrub_active(text: str) -> str:
    for url in list(_active):
        text = scrub(text, url)
    return text


def _record_factory(*args, **kwargs):
    record = _saved["factory"](*args, **kwargs)
    if not _active:
        return record
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record: logging's report of it would show its args
        message = None
    if message is None:
        record.msg, record.args = f"(unformattable log message: {_scrub_active(str(record.msg))})", None
    elif _scrub_active(message) != message:
        record.msg, record.args = _scrub_active(message), None
    if record.exc_info and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        clean = _scrub_active(text)
        if clean != text:
            # Formatted here and the live exception dropped, so that no handler formats it
            # again from the original text.
            record.exc_text, record.exc_info = clean, None
    if record.stack_info:
        record.stack_info = _scrub_active(record.stack_info)
    return record


def _thread_excepthook(args):
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    clean = _scrub_active(text)
    if clean == text:
        return _saved["threading"](args)  # nothing to hide: as it would have been
    name = args.thread.name if args.thread is not None else threading.get_ident()
    print(f"Exception in thread {name}:\n{clean}", file=sys.stderr, end="")


def _showwarning(message, category, filename, lineno, file=None, line=None):
    if _active:
        clean = _scrub_active(str(message))
        message = message if clean == str(message) else clean  # keep the Warning when nothing is hidden
    return _saved["warnings"](message, category, filename, lineno, file, line)


def _install() -> None:
    # Ours may still be in place (left by _uninstall under someone else's hook): never wrap it twice.
    if logging.getLogRecordFactory() is not _record_factory:
        _saved["factory"] = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_record_factory)
    if threading.excepthook is not _thread_excepthook:
        _saved["threading"] = threading.excepthook
        threading.excepthook = _thread_excepthook
    if warnings.showwarning is not _showwarning:
        _saved["warnings"] = warnings.showwarning
        warnings.showwarning = _showwarning


def _uninstall() -> None:
    # A hook replaced again by someone else since is left to them (ours passes through when idle).
    if logging.getLogRecordFactory() is _record_factory:
        logging.setLogRecordFactory(_saved["factory"])
    if threading.excepthook is _thread_excepthook:
        threading.excepthook = _saved["threading"]
    if warnings.showwarning is _showwarning:
        warnings.showwarning = _saved["warnings"]


def _chain(exc):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _database_error(exc, url_text: str):
    """The exception in ``exc``'s chain that carries a database's text, or ``exc`` when the chain
    shows the password; None when neither.

    SQLAlchemy's error is preferred (it quotes the driver's message), then a driver's, then
    Optuna's ``StorageInternalError`` (a generic text): an exception raised while handling a
    lost database (Optuna's own, even) says less than the database's own message.
    """
    chain = list(_chain(exc))
    for kind in (
        lambda e: isinstance(e, SQLAlchemyError),
        lambda e: type(e).__module__.partition(".")[0] in _DBAPI_MODULES,
        lambda e: isinstance(e, optuna.exceptions.StorageInternalError),
    ):
        found = next((item for item in chain if kind(item)), None)
        if found is not None:
            return found
    regex = _secret_regex(url_text)
    if regex is not None and any(regex.search(str(e)) or regex.search(repr(e.args)) for e in chain):
        return exc
    return None


@contextmanager
def hide_secrets(url):
    """Use storage ``url`` inside: nothing that leaves shows its password.

    While active, log records, warnings and tracebacks of background threads are scrubbed
    (:func:`scrub`) of the password of ``url`` (and of any other active one). An exception
    that leaves with a database's or driver's text, or any form of the password, in it or in
    its chain is re-raised as :class:`StorageError` with the scrubbed text and without the
    chain; any other exception leaves unchanged.

    Parameters
    ----------
    url : str, sqlalchemy.engine.URL or None
        The storage URL (None: nothing to hide, exceptions are still converted).
    """
    url_text = "" if url is None else _text(url)
    with _lock:
        _active.append(url_text)
        if len(_active) == 1:
            _install()
    try:
        yield
    except StorageError as exc:
        if scrub(exc, url_text) == str(exc):
            raise
        raise StorageError(scrub(exc, url_text)) from None
    except Exception as exc:
        cause = _database_error(exc, url_text)
        if cause is None:
            raise
        where = f"Optuna storage {mask_url(url_text)}" if url_text else "the Optuna storage"
        raise StorageError(f"{where} failed: {type(cause).__name__}: {scrub(cause, url_text)}") from None
    finally:
        with _lock:
            _active.remove(url_text)
            if not _active:
                _uninstall()
