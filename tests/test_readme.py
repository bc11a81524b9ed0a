"""The README's tour runs as written, also a second time in the same folder."""
import pathlib
import re
import runpy

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _tour_code() -> str:
    section = README.read_text().split("## A tour", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "README.md has no python block under '## A tour'"
    return match.group(1)


@pytest.mark.slow
def test_readme_tour_runs_again_in_the_same_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # A first run has left its synthetic file behind: the tour must not trip over it.
    (tmp_path / "quakeset.h5").write_bytes(b"left over from an earlier run")
    script = tmp_path / "tour.py"
    script.write_text(_tour_code())
    namespace = runpy.run_path(str(script))
    assert -1.0 <= namespace["get_scorer"]("spearman")(namespace["net"], namespace["X_test"], namespace["y_test"]) <= 1.0
