"""Passwords of storage URLs: never in stdout, stderr, log records, warnings or exceptions.

A storage on a closed loopback port fails the way a real server does (the driver's own message,
which repeats the host part of the URL); every output of the command and of ``tune`` is
captured and searched for the password in each of its encodings and for each of its pieces.
"""
import json
import logging
import os
import re
import socket
import sys
import threading
import warnings
from urllib.parse import quote, quote_plus

import pytest

optuna = pytest.importorskip("optuna")

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from skquake.tuning import STORAGE_ENV, StorageError, main, open_storage, tune
from skquake.tuning._secrets import hide_secrets

SHALLOW = "svr-rbf"


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _encodings(text):
    return {text, quote(text, safe=""), quote(text, safe="").lower(), quote(text), quote_plus(text),
            quote(text, safe=" +"), repr(text)[1:-1], json.dumps(text)[1:-1], text.replace("@", "%40")}


def _forms(password):
    """The password in every encoding a message could show, and so are its pieces around "@", "/", "{"."""
    pieces = {password}
    for seps in ("@", "/", "@/{}"):
        pieces.update(piece for piece in re.split(f"[{re.escape(seps)}]", password) if len(piece) >= 3)
    return {form for piece in pieces for form in _encodings(piece)}


# (URL template, password as the user means it). Pieces of every password are >= 3 characters
# and appear nowhere else in the URL or in a driver's message.
URLS = [
    ("postgresql+psycopg2://tuner:pa/ss@wo%2Frd@127.0.0.1:{port}/optuna", "pa/ss@wo/rd"),       # "/", "@", "%2F"
    ("postgresql+psycopg2://admin@server:sec/ret@xyz@127.0.0.1:{port}/optuna", "sec/ret@xyz"),  # Azure-style user
    ("postgresql+psycopg2://tuner:bra{{cee}}pwd%2F@127.0.0.1:{port}/optuna", "bra{cee}pwd/"),   # "{" (str.format)
    ("postgresql://tuner:nod%40rvr%2Fpw@127.0.0.1:{port}/optuna", "nod@rvr/pw"),                # no driver named
    ("postgresql+psycopg2://127.0.0.1:{port}/optuna?user=tuner&password=qry%2Fpwd%40abc", "qry/pwd@abc"),
]


class _Records(logging.Handler):
    """Every record of every logger, formatted as a handler would print it (tracebacks included)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts = []

    def emit(self, record):
        self.texts.append(self.format(record))


@pytest.fixture
def all_logs():
    handler = _Records()
    loggers = [logging.getLogger(), logging.getLogger("optuna"), logging.getLogger("sqlalchemy")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.texts
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@pytest.mark.parametrize("template,password", URLS, ids=[p for _, p in URLS])
def test_password_in_no_output_of_a_failing_server(template, password, tiny_quakeset, tmp_path, capfd,
                                                   all_logs, monkeypatch):
    url = template.format(port=_closed_port())
    args = [SHALLOW, "--data", str(tiny_quakeset), "--n-trials", "1", "--cv", "2", "--connect-timeout", "3"]
    outputs = []
    # On the command line, from the environment, and from Python.
    rc_flag = main(args + ["--storage", url])
    monkeypatch.setenv(STORAGE_ENV, url)
    rc_env = main(args)
    with pytest.raises(StorageError) as info:
        tune(SHALLOW, tiny_quakeset, n_trials=1, cv=2, storage=url, connect_timeout=3)
    captured = capfd.readouterr()
    outputs += [captured.out, captured.err, str(info.value), repr(info.value.args), *all_logs]
    text = "\n".join(outputs)
    leaked = sorted(form for form in _forms(password) if form in text)
    assert not leaked, text
    assert rc_flag == rc_env == 1
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # The server was reached where the user meant it: the driver names the real host.
    assert "127.0.0.1" in str(info.value) and "refused" in str(info.value).lower(), str(info.value)
    assert "Failed to import" not in captured.err


@pytest.mark.postgres
def test_password_refused_by_a_real_server_is_never_shown(tiny_quakeset, capfd, all_logs):
    url = os.environ.get("SKQUAKE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SKQUAKE_TEST_POSTGRES_URL is not set (bash .ci/postgres.sh DIR writes one)")
    password = "wr/ong@pa%ss{w}rd"
    wrong = make_url(url).set(password=password).render_as_string(hide_password=False)
    rc = main([SHALLOW, "--data", str(tiny_quakeset), "--storage", wrong, "--n-trials", "1", "--cv", "2"])
    captured = capfd.readouterr()
    text = "\n".join([captured.out, captured.err, *all_logs])
    assert rc == 1 and "authentication failed" in captured.err, captured.err
    assert not [form for form in _forms(password) if form in text], text


def test_every_channel_inside_hide_secrets_is_scrubbed(capfd):
    password = "s3c/r@t%x"
    url = "postgresql+psycopg2://tuner:" + quote(password, safe="") + "@db.example/optuna"
    records, shown = [], []
    factory, excepthook = logging.getLogRecordFactory(), threading.excepthook

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(logging.Formatter("%(message)s").format(record))

    logger = logging.getLogger("optuna.skquake-test")
    handler = Keep()
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda message, *args, **kwargs: shown.append(str(message))
            with pytest.raises(StorageError) as info, hide_secrets(url):
                logger.warning("connecting with %s", password)
                try:
                    raise ValueError(f"bad password {quote_plus(password)}")
                except ValueError:
                    logger.exception("failed")
                warnings.warn(f"password {password!r} is weak")
                thread = threading.Thread(target=lambda: (_ for _ in ()).throw(RuntimeError(password)))
                thread.start()
                thread.join()
                raise OperationalError("SELECT 1", {}, Exception(f"server said {json.dumps(password)}"))
    finally:
        logger.removeHandler(handler)
    err = capfd.readouterr().err
    text = "\n".join([*records, *shown, err, str(info.value)])
    assert "***" in text and "Exception in thread" in err
    assert not [form for form in _forms(password) if form in text], text
    # The hooks are gone once the storage is no longer in use.
    assert logging.getLogRecordFactory() is factory and threading.excepthook is excepthook


def test_postgresql_url_without_driver_uses_the_installed_one(monkeypatch):
    pytest.importorskip("psycopg2")
    url = f"postgresql://tuner:pw1234@127.0.0.1:{_closed_port()}/optuna"
    with pytest.raises(StorageError) as info:
        open_storage(url, connect_timeout=3)
    # SQLAlchemy 2.1's default driver (psycopg 3) is not installed: psycopg2, skquake's extra, is used.
    assert "psycopg2" in str(info.value) and "refused" in str(info.value).lower(), str(info.value)
    assert "Failed to import DB access module" not in str(info.value)


def test_missing_driver_is_named_with_its_extra(monkeypatch):
    # No PostgreSQL driver importable at all.
    for module in ("psycopg2", "psycopg", "pg8000"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(StorageError) as info:
        open_storage("postgresql://tuner:pw1234@127.0.0.1:1/optuna")
    message = str(info.value)
    assert "psycopg2" in message and "pip install 'skquake[postgres]'" in message, message
    assert "pw1234" not in message and "tuner:***@127.0.0.1" in message
    with pytest.raises(StorageError, match=r"driver 'psycopg2' needs the Python module 'psycopg2'.*skquake\[postgres\]"):
        open_storage("postgresql+psycopg2://tuner@127.0.0.1:1/optuna")
