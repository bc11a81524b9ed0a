"""Render docs/images/scene_map.png: a detection map of the test scene over its post image.

Run from the repository root (about 20 s on one core; needs the geo and plot extras)::

    python docs/images/scene_map.py

The scene is the one of ``tests/inference/test_scene.py`` (``quakeset_scene``): test patches of a
synthetic QuakeSet file laid out on a UTM 37N grid, earthquake patches in the top-left 2 x 2
corner; the model is ``rfc-change`` fitted on the file's train split. The file has 80 events,
more than the tests' 12, so that the model is steadier than the tests need.
"""
import importlib.util
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import rasterio
from rasterio.plot import plotting_extent

from skquake.datasets import load_quakeset
from skquake.datasets.synthetic import make_quakeset
from skquake.inference import predict_scene
from skquake.models import create_model
from skquake.utils import to_decibels

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images" / "scene_map.png"


def _test_helpers():
    spec = importlib.util.spec_from_file_location("test_scene", ROOT / "tests" / "inference" / "test_scene.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    helpers = _test_helpers()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = make_quakeset(tmp / "tiny.h5", n_events=80, patch_size=32, patches_per_event=3, random_state=0)
        X, y, _ = load_quakeset(data, "train")
        model = create_model("rfc-change", rf__n_estimators=100, random_state=0).fit(X, y)
        pre, post, _ = helpers.quakeset_scene(data, rows=6, cols=8)
        paths = (helpers.write_tif(tmp / "pre.tif", pre), helpers.write_tif(tmp / "post.tif", post))
        out = predict_scene(model, *paths, tmp / "out", threshold=0.5)
        with rasterio.open(paths[1]) as ds:
            background = to_decibels(ds.read(1))
            scene_extent = plotting_extent(ds)
        with rasterio.open(out["probability"]) as ds:
            probability = ds.read(1)
            map_extent = plotting_extent(ds)

    fig, ax = plt.subplots(figsize=(7.5, 5.2), layout="constrained")
    ax.imshow(background, cmap="gray", extent=scene_extent, vmin=np.nanpercentile(background, 2),
              vmax=np.nanpercentile(background, 98))
    shown = ax.imshow(probability, cmap="inferno", alpha=0.55, vmin=0, vmax=1, extent=map_extent)
    fig.colorbar(shown, ax=ax, label="detection probability (rfc-change), per 16-px tile step")
    ax.set(title="Detection map of a test scene over its post image (VV, dB)",
           xlabel="easting, EPSG:32637 (m)", ylabel="northing (m)",
           xlim=scene_extent[:2], ylim=scene_extent[2:])
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.tick_params(axis="x", labelrotation=20)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
