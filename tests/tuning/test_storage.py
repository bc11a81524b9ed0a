"""Storages: URLs, password masking, and a storage that cannot be opened."""
import socket
import time
from urllib.parse import quote

import pytest

from skquake.tuning import StorageError, main, mask_url, open_storage
from skquake.tuning._storage import scrub

SHALLOW = "svr-rbf"


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_mask_url_hides_passwords():
    assert mask_url("postgresql+psycopg2://me:s3cr%40t@db:5432/x") == "postgresql+psycopg2://me:***@db:5432/x"
    assert mask_url("postgresql://db/x?user=me&password=s3cret&sslmode=require") == (
        "postgresql://db/x?user=me&password=***&sslmode=require"
    )
    assert mask_url("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"
    assert mask_url("postgresql://me@db/x") == "postgresql://me@db/x"


# (URL, password as written in the URL, password): no form of the password may be shown.
SECRET_URLS = [
    ("postgresql://tuner:hunter2@db:5432/optuna", "hunter2", "hunter2"),
    ("postgresql+psycopg2://tuner:sl%2Fash@db/optuna", "sl%2Fash", "sl/ash"),           # "/" quoted
    ("postgresql+psycopg2://tuner:sl/ash99@db/optuna", "sl/ash99", "sl/ash99"),         # "/" unquoted
    ("postgresql://tuner:at%40sign@db/optuna", "at%40sign", "at@sign"),                 # "@" quoted
    ("postgresql://tuner:at@sign7@db:5432/optuna", "at@sign7", "at@sign7"),             # "@" unquoted
    ("postgresql://tuner:a@b/c@db/optuna", "a@b/c", "a@b/c"),                           # "@" and "/"
    ("postgresql://tuner:co:lon:s@db/optuna", "co:lon:s", "co:lon:s"),                  # ":" unquoted
    ("postgresql://tuner:p@ss:word@db:5432/optuna", "p@ss:word", "p@ss:word"),          # "@" and ":"
    ("postgresql://tuner:100%25sure@db/optuna", "100%25sure", "100%sure"),              # "%" quoted
    ("postgresql://tuner:50%off@db/optuna", "50%off", "50%off"),                        # "%" unquoted
    ("postgresql://admin@server:azur3pw@db.example/optuna", "azur3pw", "azur3pw"),      # Azure-style user
    ("postgresql://admin@server:azu@re/pw@db.example/optuna", "azu@re/pw", "azu@re/pw"),
    ("postgresql://admin%40server:azur3pw@db.example/optuna", "azur3pw", "azur3pw"),
    ("postgresql://db/optuna?user=tuner&password=qu3ry&sslmode=require", "qu3ry", "qu3ry"),
    ("postgresql://db/optuna?user=tuner&password=q%26u%2Fery", "q%26u%2Fery", "q&u/ery"),
    ("mysql+pymysql://db/optuna?PWD=upp3rcase", "upp3rcase", "upp3rcase"),
    ("postgresql://tuner:hunter2@db:notaport/optuna", "hunter2", "hunter2"),            # make_url fails
    ("my-db://tuner:hunter2@db/optuna", "hunter2", "hunter2"),                          # make_url fails
    ("postgresql://tuner:1234/a@b:xx", "1234/a", "1234/a"),                             # make_url fails
    ("my-db://db/optuna?user=tuner&password=qu3ry", "qu3ry", "qu3ry"),                  # make_url fails
]


@pytest.mark.parametrize("url,raw,password", SECRET_URLS, ids=[u for u, _, _ in SECRET_URLS])
def test_password_never_in_masked_url(url, raw, password):
    forms = {raw, password, quote(password, safe="")}
    masked = mask_url(url)
    assert "***" in masked
    assert not [form for form in forms if form in masked], masked
    # A driver message quoting the URL or the password in any form shows none of them.
    message = f"could not connect to {url}: password {password!r} ({quote(password, safe='')}) rejected"
    scrubbed = scrub(message, url)
    assert not [form for form in forms if form in scrubbed], scrubbed


def test_masked_url_keeps_host_and_user():
    assert mask_url("postgresql://admin@server:azur3pw@db.example/optuna") == (
        "postgresql://admin%40server:***@db.example/optuna"
    )
    assert mask_url("postgresql://tuner:a@b/c@db/optuna") == "postgresql://tuner:***@db/optuna"
    assert mask_url("my-db://tuner:hunter2@db/optuna") == "my-db://***"
    # Not URLs: a path is shown as is.
    assert mask_url("/data/studies") == "/data/studies"


def test_unreachable_storage_names_masked_url_quickly(capsys, tiny_quakeset):
    url = f"postgresql+psycopg2://tuner:hunter2secret@127.0.0.1:{_closed_port()}/optuna"
    start = time.monotonic()
    with pytest.raises(StorageError) as info:
        open_storage(url, connect_timeout=3)
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert "tuner:***@127.0.0.1" in message and "hunter2secret" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # The command line says the same and never prints the password.
    rc = main([SHALLOW, "--data", str(tiny_quakeset), "--storage", url, "--n-trials", "1", "--connect-timeout", "3"])
    out = capsys.readouterr()
    assert rc == 1
    assert "tuner:***@127.0.0.1" in out.err
    assert "hunter2secret" not in out.err + out.out


def test_heartbeat_settings_are_validated(tmp_path):
    with pytest.raises(ValueError, match="heartbeat_interval"):
        open_storage(tmp_path, heartbeat_interval=0)
    with pytest.raises(ValueError, match=r"grace_period \(5 s\) must exceed heartbeat_interval \(10 s\)"):
        open_storage(tmp_path, grace_period=5)
    assert not (tmp_path / "skquake-optuna.db").exists()
