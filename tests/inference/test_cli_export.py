"""``skquake export``: a saved model to ONNX, with the parity check on a QuakeSet file."""
import pytest

pytest.importorskip("onnxruntime")

import onnx  # noqa: E402

from skquake.cli import main  # noqa: E402
from skquake.datasets import load_quakeset  # noqa: E402
from skquake.export import check_onnx_parity  # noqa: E402
from skquake.models import load_model  # noqa: E402


@pytest.fixture(scope="module")
def saved(tiny_quakeset, tmp_path_factory):
    out = tmp_path_factory.mktemp("export-cli") / "rfc.skq"
    assert main(["fit", "rfc-change", "--data", str(tiny_quakeset), "--task", "detection-single",
                 "--out", str(out), "--seed", "0", "--set", "rf__n_estimators=11"]) == 0
    return out


def test_export_writes_an_onnx_model_that_predicts_like_the_saved_one(saved, tiny_quakeset, tmp_path, capsys):
    out = tmp_path / "rfc.onnx"
    assert main(["export", str(saved), "--out", str(out), "--check", str(tiny_quakeset), "--n-check", "8"]) == 0
    printed = capsys.readouterr().out
    assert "largest difference to predict on 8 test samples" in printed
    onnx.checker.check_model(onnx.load(out))
    X, _, _ = load_quakeset(tiny_quakeset, split="test", mode="single")
    assert check_onnx_parity(load_model(saved), str(out), X) <= 1e-4


@pytest.mark.parametrize("argv, message", [
    (["--out", "EXISTS"], "--overwrite"),
    (["--out", "NEW", "--quantize", "int8"], "int8"),
    (["--out", "NEW", "--format", "tflite"], "argument --format"),
    (["--out", "NEW", "--check", "missing.h5"], "argument --check"),
])
def test_bad_export_commands_exit_2(saved, tmp_path, capsys, argv, message):
    (tmp_path / "exists.onnx").write_bytes(b"keep me")
    subs = {"EXISTS": str(tmp_path / "exists.onnx"), "NEW": str(tmp_path / "new.onnx")}
    assert main(["export", str(saved)] + [subs.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert (tmp_path / "exists.onnx").read_bytes() == b"keep me" and not (tmp_path / "new.onnx").exists()
