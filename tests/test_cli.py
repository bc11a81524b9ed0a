"""The ``skquake`` command line and the README/CI contract."""
import pathlib
import re
import subprocess
import sys

from skquake.cli import COMMANDS, main

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_usage_lists_every_command(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_fails_clearly(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_models_command_lists_registry(capsys):
    assert main(["models", "--family", "shallow"]) == 0
    out = capsys.readouterr().out
    assert "svr-rbf" in out and "rfc" in out


def test_every_command_has_help():
    for name in COMMANDS:
        proc = subprocess.run([sys.executable, "-m", "skquake.cli", name, "--help"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (name, proc.stderr[-2000:])
        assert "usage" in proc.stdout.lower()


def _block(marker):
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- {marker} -->\s*```bash\n(.*?)\n```\s*<!-- /{marker} -->", text, re.S)
    assert m, f"README.md lacks the {marker} block"
    return m.group(1).strip()


def test_readme_starts_with_the_two_commands():
    main_cmd, test_cmd = _block("main-command"), _block("test-command")
    assert "skquake benchmark" in main_cmd and "pip install" in main_cmd
    assert "pytest" in test_cmd and "pip install" in test_cmd
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci, ".ci/run must take the test command from the README"


def test_lazy_public_names_resolve():
    import skquake

    for name in skquake.__all__:
        assert getattr(skquake, name) is not None, name
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        skquake.nope
