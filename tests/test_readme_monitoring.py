"""The README's "Monitoring a new earthquake" commands run as written, twice in one folder."""
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
pytest.importorskip("rasterio")
pytest.importorskip("onnxruntime")
pytest.importorskip("mapie")


def _commands() -> list[list[str]]:
    block = re.search(r"<!-- monitoring-commands -->\n```bash\n(.*?)```", README.read_text(), flags=re.S)
    assert block, "README.md has no block between <!-- monitoring-commands --> markers"
    lines = [line.split("  #")[0].strip() for line in block.group(1).splitlines()]
    commands = [shlex.split(line) for line in lines if line]
    assert commands[0][:2] == ["pip", "install"]  # the install step is the test environment's
    return commands[1:]


@pytest.mark.slow
def test_readme_monitoring_commands_run_twice(tmp_path):
    skquake = [sys.executable, "-c", "import sys; from skquake.cli import main; sys.exit(main())"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    for _ in range(2):
        for argv in _commands():
            assert argv[0] == "skquake", argv
            run = subprocess.run(skquake + argv[1:], cwd=tmp_path, capture_output=True, text=True, env=env)
            assert run.returncode == 0, f"{shlex.join(argv)}:\n{run.stdout}\n{run.stderr}"
    assert (tmp_path / "maps" / "probability.tif").exists() and (tmp_path / "det.onnx").exists()
    header = (tmp_path / "magnitudes.csv").read_text().splitlines()[0].split(",")
    assert {"magnitude", "lower", "upper"} <= set(header)
    assert (tmp_path / "maps" / "change" / "change_mask.tif").exists()
    assert (tmp_path / "maps" / "epicentre" / "epicentre.json").exists()
