"""The ``skquake`` command line and the README/CI contract."""
import pathlib
import re
import subprocess
import sys

import pytest

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
    # the quick profile runs the classical change detectors, whose thresholds are scikit-image's
    assert re.search(r"\[[^\]]*\bchange\b[^\]]*\]", main_cmd), main_cmd
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


# --------------------------------------------------------------------------- usage errors
#: Every command: a usage error exits 2 with one line "skquake COMMAND: error: ..." that names
#: the option (the flag, never the Python keyword), and no traceback. (command, arguments,
#: what stderr must name); the test fills in DATA (a QuakeSet file), FOLDER, FILE (an existing
#: file) and EMPTY (a folder without results).
USAGE_CASES = [
    ("make-quakeset", ["new.h5", "--patch-size", "0"], "--patch-size"),
    ("make-quakeset", ["new.h5", "--n-events", "many"], "--n-events"),
    ("make-quakeset", ["new.h5", "--signal-strength", "-1"], "--signal-strength"),
    ("make-quakeset", ["FILE"], "--overwrite"),
    ("make-quakeset", ["FOLDER"], "is a folder"),
    ("make-quakeset", ["missing/new.h5"], "does not exist"),
    ("make-damage", ["new.h5", "--n-buildings", "3"], "--n-buildings"),
    ("make-damage", ["new.h5", "--image-size", "2"], "--image-size"),
    ("make-damage", ["FILE"], "--overwrite"),
    ("make-damage", ["FOLDER"], "is a folder"),
    ("models", ["--task", "nope"], "--task"),
    ("models", ["--family", "nope"], "--family"),
    ("tune", ["svr-rbf", "--data", "FOLDER"], "--data"),
    ("tune", ["svr-rbf", "--data", "missing.h5"], "--data"),
    ("tune", ["svr-rbf", "--data", "DATA", "--n-trials", "0"], "--n-trials"),
    ("tune", ["svr-rbf", "--data", "DATA", "--cv", "1"], "--cv"),
    ("tune", ["svr-rbf", "--data", "DATA", "--pool", "3"], "--pool"),
    ("tune", ["svr-rbf", "--data", "DATA", "--timeout", "-1"], "--timeout"),
    ("tune", ["svr-rbf", "--data", "DATA", "--scoring", "nope"], "--scoring"),
    ("tune", ["svr-rbf", "--data", "DATA", "--param", "nope"], "--param"),
    ("tune", ["svr-rbf", "--data", "DATA", "--set", "nope"], "--set"),
    ("tune", ["svr-rbf", "--data", "DATA", "--set", "nope=1"], "--set"),
    ("tune", ["svr-rbf", "--data", "DATA", "--refit", "FILE"], "--refit"),
    ("tune", ["svr-rbf", "--data", "DATA", "--refit", "FOLDER"], "--refit"),
    ("tune", ["nope", "--data", "DATA"], "unknown model 'nope'"),
    ("benchmark", ["--data", "FOLDER", "--dry-run"], "--data"),
    ("benchmark", ["--damage-data", "missing.h5"], "--damage-data"),
    ("benchmark", ["--out", "FILE"], "--out"),
    ("benchmark", ["--report-only", "--out", "FILE"], "--out"),
    ("benchmark", ["--report-only", "--out", "EMPTY"], "--out"),
    ("benchmark", ["--models", "nope"], "--models"),
    ("benchmark", ["--tasks", "nope", "--dry-run"], "--tasks"),
    ("benchmark", ["--pool", "0"], "--pool"),
    ("benchmark", ["--seeds", "-1"], "--seeds"),
    ("benchmark", ["--threads", "0"], "--threads"),
    ("benchmark", ["--timeout", "-1"], "--timeout"),
    ("benchmark", ["--max-epochs", "0"], "--max-epochs"),
    ("benchmark", ["--device", "gpu"], "--device"),
    ("benchmark", ["--timeout", "5", "--in-process"], "--in-process"),
    ("benchmark", ["--profile", "nope"], "--profile"),
]


@pytest.fixture
def places(tmp_path, monkeypatch, tiny_quakeset):
    """Run in an empty folder (tune's default storage is created in the working folder)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "empty-results").mkdir()
    (tmp_path / "existing.h5").write_bytes(b"")
    return tiny_quakeset, tmp_path / "a-folder", tmp_path / "existing.h5", tmp_path / "empty-results"


@pytest.mark.parametrize("command, argv, named", USAGE_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_usage_errors_exit_2_naming_the_option(places, capsys, command, argv, named):
    argv = [str(dict(zip(("DATA", "FOLDER", "FILE", "EMPTY"), places)).get(a, a)) for a in argv]
    if command == "benchmark":
        # Should a check be lost, the run that follows stays small (one shallow model, one task).
        for option, value in (("--models", "svr-rbf"), ("--tasks", "magnitude-bitemporal"),
                              ("--data", str(places[0])), ("--out", "bench-out")):
            argv += [option, value] if option not in argv else []
        argv += ["--no-progress", "--no-plots"]
    before = sorted(p.name for p in places[1].parent.iterdir())
    assert main([command, *argv]) == 2, (command, argv)
    out, err = capsys.readouterr()
    assert named in err, (command, argv, err)
    lines = [line for line in err.splitlines() if "error:" in line]
    assert lines == [lines[-1]] and lines[0].startswith(f"skquake {command}: error: "), err
    assert "Traceback" not in err
    if named.startswith("--"):
        # The CLI names the flag, not the Python keyword (``'patch_size' parameter``, ``overwrite=True``).
        keyword = named[2:].replace("-", "_")
        assert f"'{keyword}' parameter" not in err and f"{keyword}=" not in err, err
    assert sorted(p.name for p in places[1].parent.iterdir()) == before  # nothing written


def test_python_api_names_the_keywords(tmp_path):
    """The same errors from Python name the keyword (the CLI rewrites them into flags)."""
    from skquake.datasets import make_damage_dataset, make_quakeset

    existing = tmp_path / "existing.h5"
    existing.write_bytes(b"")
    with pytest.raises(ValueError, match="The 'patch_size' parameter of make_quakeset"):
        make_quakeset(tmp_path / "new.h5", patch_size=0)
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        make_quakeset(existing)
    with pytest.raises(ValueError, match="The 'n_buildings' parameter of make_damage_dataset"):
        make_damage_dataset(tmp_path / "new.h5", n_buildings=3)


def test_exit_status_of_each_kind_of_outcome(capsys):
    from skquake.utils import CommandParser

    def run(exc):
        def body(args):
            raise exc

        return CommandParser(prog="skquake demo").run(body, [])

    assert run(ValueError("bad value")) == 2
    assert run(KeyError("unknown name 'x'")) == 2
    assert "skquake demo: error: unknown name 'x'\n" in capsys.readouterr().err  # not "'unknown name ...'"
    assert run(FileExistsError("x exists")) == 2
    assert run(RuntimeError("the database went away")) == 1
    assert run(PermissionError("cannot write x")) == 1
    assert run(KeyboardInterrupt()) == 130
    err = capsys.readouterr().err
    assert "skquake demo: error: the database went away" in err and "Traceback" not in err
    with pytest.raises(TypeError):  # a bug keeps its traceback
        run(TypeError("unsupported operand"))
    assert CommandParser(prog="skquake demo").run(lambda args: None, ["--help"]) == 0
    assert CommandParser(prog="skquake demo").run(lambda args: None, ["--nope"]) == 2


def test_keywords_become_the_command_s_flags():
    from skquake.utils import CommandParser

    p = CommandParser(prog="skquake demo")
    p.add_argument("path")
    p.add_argument("--patch-size", type=int)
    p.add_argument("--n-events", type=int)
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--in-process", dest="isolate", action="store_false")
    p.add_argument("--pool", type=int)
    rewrite = p.flags_for_keywords
    assert rewrite("The 'patch_size' parameter of make_quakeset must be an int in the range [4, inf). "
                   "Got 0 instead.") == "--patch-size must be an int in the range [4, inf). Got 0 instead."
    assert rewrite("x.h5 already exists; pass overwrite=True to replace it") == \
        "x.h5 already exists; pass --overwrite to replace it"
    assert rewrite("needs isolate=False") == "needs --in-process"
    assert rewrite("needs isolate=True") == "needs no --in-process"
    assert rewrite("pool=3 does not divide 8 x 8") == "--pool 3 does not divide 8 x 8"
    assert rewrite("pool == 0, must be >= 1.") == "--pool 0, must be >= 1."
    assert rewrite("lazy loading: pool must be 1") == "lazy loading: --pool must be 1"
    assert rewrite("make_quakeset(patch_size=9000, n_events=2): needs 3 TiB") == \
        "--patch-size 9000 --n-events 2: needs 3 TiB"
    assert rewrite("choose a smaller patch_size", ["patch_size"]) == "choose a smaller --patch-size"
    # Keywords that are not options, words that merely contain one, and Python to copy stay.
    assert rewrite("pass input_shape=(C, H, W); QuakeSet(fill_value=0.0)") == \
        "pass input_shape=(C, H, W); QuakeSet(fill_value=0.0)"
    assert rewrite("read it with load_quakeset(path, pool=4); pool=3 does not divide") == \
        "read it with load_quakeset(path, pool=4); --pool 3 does not divide"
    assert rewrite("lazy_deep=True needs pool_size 1; the 'path' parameter of f") == \
        "lazy_deep=True needs pool_size 1; the 'path' parameter of f"


def test_a_password_repeated_by_argparse_is_hidden(places, capsys):
    url = "postgresql+psycopg2://tuner:hunter2@db.example:5432/optuna"
    assert main(["tune", "svr-rbf", "--data", str(places[0]), "--storag-url", url]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err and "tuner:***@db.example" in err and "hunter2" not in err
