"""The .skq saved-model format: round trips, and refusal of foreign, tampered and too-new files."""
import json
import pickle
import zipfile

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skquake.datasets import load_quakeset
from skquake.models import (
    ModelFileError,
    ModelVersionWarning,
    create_model,
    load_model,
    read_manifest,
    save_model,
)
from skquake.models._persistence import _checksum


def _fitted(name, path, target, **params):
    X, y, _ = load_quakeset(path, split="train", target=target)
    return create_model(name, **params).fit(X, y)


@pytest.fixture(scope="module")
def saved_svr(tiny_quakeset, tmp_path_factory):
    est = _fitted("svr-rbf", tiny_quakeset, "magnitude")
    out = save_model(est, tmp_path_factory.mktemp("skq") / "svr.skq", model="svr-rbf", data=tiny_quakeset,
                     metrics={"mae": 0.5, "spearman": float("nan")})
    return est, out


def _rewrite(src, dst, *, manifest=None, members=None, drop=()):
    """Copy a .skq archive, replacing the manifest / member bytes, dropping members."""
    with zipfile.ZipFile(src) as zf:
        blobs = {n: zf.read(n) for n in zf.namelist()}
    if manifest is not None:
        blobs["manifest.json"] = json.dumps(manifest).encode()
    blobs.update(members or {})
    with zipfile.ZipFile(dst, "w") as zf:
        for name, blob in blobs.items():
            if name not in drop:
                zf.writestr(name, blob)
    return dst


@pytest.mark.parametrize("name, target", [("svr-rbf", "magnitude"), ("rfc-change", "label")])
def test_round_trip_shallow(tiny_quakeset, tmp_path, name, target):
    est = _fitted(name, tiny_quakeset, target)
    out = save_model(est, tmp_path / "m.skq", model=name, task=f"x-{name}", data=tiny_quakeset,
                     splits=("train",), metrics={"m": 1.25})
    loaded, manifest = load_model(out, return_manifest=True)
    X, _, _ = load_quakeset(tiny_quakeset, split="test", target=target)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert manifest["payload"] == "skops" and set(manifest["members"]) == {"estimator.skops"}
    assert manifest["model"]["name"] == name and manifest["task"] == f"x-{name}"
    assert manifest["input"] == {"mode": "bitemporal", "pool": 1, "shape": [4, 32, 32], "source_shape": [4, 32, 32]}
    assert manifest["data"]["size"] == tiny_quakeset.stat().st_size and manifest["data"]["splits"] == ["train"]
    assert len(manifest["data"]["sha256"]) == 64 and manifest["metrics"] == {"m": 1.25}
    assert manifest["versions"]["scikit-learn"] and manifest["versions"]["skops"]


def test_round_trip_deep(tiny_quakeset, tmp_path):
    params = {"max_epochs": 1, "batch_size": 8, "input_shape": (4, 32, 32)}
    est = _fitted("resnet10t-det", tiny_quakeset, "label", **params)
    out = save_model(est, tmp_path / "d.skq", model="resnet10t-det", params=params, data=tiny_quakeset)
    loaded, manifest = load_model(out, return_manifest=True)
    X, _, _ = load_quakeset(tiny_quakeset, split="test")
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(loaded.classes_, est.classes_)
    assert loaded.get_params()["input_shape"] == (4, 32, 32)  # the tuple survives JSON
    assert manifest["payload"] == "safetensors" and manifest["versions"]["torch"]
    # A deep net is rebuilt from the registry: parameters that were set but not given are refused.
    with pytest.raises(ValueError, match=r"\['batch_size', 'input_shape', 'max_epochs'\] differ"):
        save_model(est, tmp_path / "e.skq", model="resnet10t-det")
    assert not (tmp_path / "e.skq").exists()


def test_save_refuses_what_json_cannot_hold_and_existing_files(saved_svr, tmp_path):
    est, out = saved_svr
    with pytest.raises(ValueError, match=r"params=.*object.*cannot be stored"):
        save_model(est, tmp_path / "x.skq", model="svr-rbf", params={"svr__C": object()})
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(est, out, model="svr-rbf")


def test_tampered_member_refused(saved_svr, tmp_path):
    _, out = saved_svr
    with zipfile.ZipFile(out) as zf:
        blob = bytearray(zf.read("estimator.skops"))
    blob[len(blob) // 2] ^= 0xFF
    bad = _rewrite(out, tmp_path / "bad.skq", members={"estimator.skops": bytes(blob)})
    with pytest.raises(ModelFileError, match=r"bad\.skq: member 'estimator.skops' does not match its SHA-256"):
        load_model(bad)


def test_flipped_byte_in_file_refused(saved_svr, tmp_path):
    _, out = saved_svr
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the compressed payload
    bad = tmp_path / "flip.skq"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"flip\.skq: cannot be read .*Bad CRC-32 for file 'estimator.skops'"):
        load_model(bad)


def test_edited_manifest_refused(saved_svr, tmp_path):
    _, out = saved_svr
    manifest = read_manifest(out)
    manifest["task"] = "detection-bitemporal"
    bad = _rewrite(out, tmp_path / "edit.skq", manifest=manifest)
    with pytest.raises(ModelFileError, match=r"edit\.skq: manifest.json was edited"):
        load_model(bad)


@pytest.mark.parametrize("drop, extra, message", [
    (("estimator.skops",), {}, r"members \['estimator.skops'\] are missing"),
    ((), {"evil.pkl": b"x"}, r"unexpected members \['evil.pkl'\]"),
    (("manifest.json",), {}, "no manifest.json: not a skquake model file"),
])
def test_missing_or_extra_members_refused(saved_svr, tmp_path, drop, extra, message):
    _, out = saved_svr
    bad = _rewrite(out, tmp_path / "m.skq", members=extra, drop=drop)
    with pytest.raises(ModelFileError, match=message):
        load_model(bad)


def test_foreign_files_refused(saved_svr, tmp_path):
    est, out = saved_svr
    pickled = tmp_path / "model.skq"
    pickled.write_bytes(pickle.dumps(est))
    with pytest.raises(ModelFileError, match=r"model\.skq: cannot be read as a \.skq zip archive \(damaged, "
                                             r"truncated or not a skquake model file\)"):
        load_model(pickled)
    other = tmp_path / "other.skq"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"format": "something-else"}))
    with pytest.raises(ModelFileError, match="not a 'skquake-model' manifest"):
        load_model(other)
    garbage = tmp_path / "garbage.skq"
    with zipfile.ZipFile(garbage, "w") as zf:
        zf.writestr("manifest.json", b"\x80not json")
    with pytest.raises(ModelFileError, match="manifest.json is not valid JSON"):
        load_model(garbage)
    truncated = tmp_path / "truncated.skq"
    truncated.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    with pytest.raises(ModelFileError, match=r"truncated\.skq: cannot be read as a \.skq zip archive"):
        load_model(truncated)
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_model(tmp_path / "missing.skq")


def test_newer_format_refused_and_other_versions_warned(saved_svr, tmp_path):
    _, out = saved_svr
    manifest = read_manifest(out)
    newer = dict(manifest, format_version=manifest["format_version"] + 1)
    newer["checksum"] = _checksum(newer)
    with pytest.raises(ModelFileError, match="format version 2; .* upgrade skquake"):
        load_model(_rewrite(out, tmp_path / "new.skq", manifest=newer))
    old = dict(manifest, versions=dict(manifest["versions"], **{"scikit-learn": "0.20.1"}))
    old["checksum"] = _checksum(old)
    with pytest.warns(ModelVersionWarning, match=r"saved with scikit-learn 0\.20\.1, scikit-learn .* installed"):
        load_model(_rewrite(out, tmp_path / "old.skq", manifest=old))


def _double(X):
    return 2 * X


def test_untrusted_types_refused_unless_trusted(tmp_path):
    est = make_pipeline(FunctionTransformer(_double)).fit(np.ones((3, 2)))
    out = save_model(est, tmp_path / "f.skq", model="svr-rbf")
    with pytest.raises(ModelFileError, match=r"f\.skq: .*neither skquake's nor scikit-learn's: .*_double"):
        load_model(out)
    loaded = load_model(out, trusted=[f"{__name__}._double"])
    np.testing.assert_array_equal(loaded.transform(np.ones((1, 2))), [[2.0, 2.0]])
