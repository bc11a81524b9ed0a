"""The reports: tables, CSV/JSON, plots and the paper's reference figures, from stored rows."""
import json

from skquake.benchmark import PAPER_RESULTS, write_reports
from skquake.benchmark._paper import reference_table
from skquake.benchmark._store import RESULTS_FILE, append_row


def test_reports_from_rows_include_the_ranking_plot(tmp_path):
    """The report layer alone, on hand-written rows: mean ± std, ranking-vs-MSE pairs."""
    rows = []
    for model, family, maes in (("rfr", "shallow", (2.0, 2.2)), ("mobilenetv2-mse", "deep", (1.0, 1.2)),
                                ("mobilenetv2-rank", "deep", (0.8, 0.9))):
        for seed, mae in enumerate(maes):
            rows.append({
                "task": "magnitude-bitemporal", "model": model, "seed": seed, "config_id": "c1",
                "status": "ok", "family": family, "test_mae": mae, "test_magnitude_accuracy": 0.5,
                "test_spearman": 0.1, "test_rmse": mae, "latency_ms": 3.0, "fit_s": 1.0,
                "mflops": 10.0 if family == "deep" else None, "n_params": 1000, "peak_rss_mb": 300.0,
                "throughput_sps": 100.0,
            })
    for row in rows:
        append_row(tmp_path / RESULTS_FILE, row)
    files = write_reports(tmp_path, log=lambda *_: None)
    assert tmp_path / "plots" / "ranking_vs_mse.png" in files
    md = (tmp_path / "results.md").read_text()
    assert "| rfr | 1.0k | 2.1000 ± 0.1414 |" in md
    # shallow models first, then deep ones in registry order
    assert md.index("| rfr |") < md.index("| mobilenetv2-mse |") < md.index("| mobilenetv2-rank |")


def test_paper_figures_come_from_the_package_data_file():
    """PAPER_RESULTS is read from paper_results.json, shipped with the package."""
    from importlib import resources

    doc = json.loads(resources.files("skquake.benchmark").joinpath("paper_results.json").read_text())
    assert set(PAPER_RESULTS) == set(doc["tasks"]) == {
        "detection-bitemporal", "magnitude-bitemporal", "detection-single", "magnitude-single"}
    ref = PAPER_RESULTS["magnitude-bitemporal"]
    assert ref["metrics"] == ("mae", "magnitude_accuracy")
    assert ref["rows"][3] == ("MobileNetV2 (CNN)", "2.2M", (0.5456, 0.9374), 0.1109, 207.5949)
    for task, entry in PAPER_RESULTS.items():
        assert all(len(values) == len(entry["metrics"]) for _, _, values, _, _ in entry["rows"]), task
    lines = reference_table("detection-single")
    assert lines[0] == "| Model (paper) | Params | Accuracy | Time (s) | MFLOPs |"
    assert "| SVC (RBF kernel) | - | 0.6047 | 0.1488 | 0.524288 |" in lines
    assert reference_table("damage") == []
