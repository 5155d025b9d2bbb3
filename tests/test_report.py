"""Reports as people read them: table formatting, significance against hand computations,
report.html of compare, fit and sweep directories, and the page as headless Chromium shows it."""

from __future__ import annotations

import base64
import os
import re
import shutil
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import CONFIGS
from econdl.main import main
from econdl.report import write_report
from econdl.report.console import comparison_text
from econdl.report.browser import check_page, find_chromium, not_blank
from econdl.report.significance import bootstrap_interval, mcnemar_p, significance_table
from econdl.report.table import format_table, significant, to_console, with_std
from test_mnist_data import digit_images, write_idx


# --- significance -------------------------------------------------------------------------
def exact_mcnemar(b: int, c: int) -> float:
    """Two-sided exact McNemar by hand: twice the binomial tail of the smaller discordant count."""
    n, k = b + c, min(b, c)
    return min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2**n)


def test_mcnemar_and_holm_match_a_hand_computation():
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
    best = y.copy()  # 12/12 right
    a = y.copy()
    a[[0, 1, 2, 3, 4, 5]] = (a[[0, 1, 2, 3, 4, 5]] + 1) % 3  # 6/12: discordant (best right, a wrong) = 6
    b = y.copy()
    b[[0, 1]] = (b[[0, 1]] + 1) % 3  # 10/12: discordant = 2
    assert mcnemar_p(best == y, a == y) == pytest.approx(exact_mcnemar(6, 0)) == pytest.approx(2 / 64)
    assert mcnemar_p(best == y, b == y) == pytest.approx(exact_mcnemar(2, 0)) == pytest.approx(0.5)
    frame = significance_table({"a": a, "best": best, "b": b}, y, n_boot=200)
    assert frame.attrs["best"] == "best" and np.isnan(frame.loc["best", "p_vs_best"])
    # Holm with 2 tests: the smaller p times 2, the larger times 1, never below the one before
    assert frame.loc["a", "p_vs_best"] == pytest.approx(2 * (2 / 64))
    assert frame.loc["b", "p_vs_best"] == pytest.approx(max(0.5, 2 * (2 / 64)))
    assert frame.loc["a", "p_vs_best_raw"] == pytest.approx(2 / 64)
    assert frame.loc["b", "test_acc"] == pytest.approx(10 / 12)


def test_bootstrap_interval_is_seeded_and_as_wide_as_the_sampling_error():
    correct = np.r_[np.ones(320), np.zeros(80)]  # accuracy 0.8 on 400 examples: se = 0.02
    low, high = bootstrap_interval(correct, seed=3)
    assert (low, high) == bootstrap_interval(correct, seed=3)
    assert low < 0.8 < high
    assert high - low == pytest.approx(2 * 1.96 * 0.02, rel=0.15)
    assert bootstrap_interval(np.ones(50)) == (1.0, 1.0)


def test_several_seeds_give_the_interval_of_their_mean_and_test_the_first_seed():
    """With seeds, the table's accuracy is the mean over them; its interval was the first seed's,
    so it could lie wholly above or below the accuracy printed beside it."""
    targets = np.zeros(400, dtype=int)
    first = np.r_[np.zeros(360), np.ones(40)].astype(int)  # right on 0.90 of the examples
    second = np.r_[np.ones(120), np.zeros(280)].astype(int)  # 0.70
    other = np.r_[np.zeros(300), np.ones(100)].astype(int)  # 0.75, one seed
    frame = significance_table({"net": [first, second], "nb": other}, targets)
    assert frame.loc["net", "test_acc"] == pytest.approx(0.8)
    low, high = frame.loc["net", "test_acc_ci_low"], frame.loc["net", "test_acc_ci_high"]
    assert low < 0.8 < high and high < 0.87  # seed 0 alone: 0.90
    alone = significance_table({"net": first, "nb": other}, targets)
    assert frame.loc["nb", "p_vs_best_raw"] == pytest.approx(alone.loc["nb", "p_vs_best_raw"])  # first seeds
    assert (frame.loc["nb", "test_acc_ci_low"], frame.loc["nb", "test_acc_ci_high"]) == (
        alone.loc["nb", "test_acc_ci_low"],
        alone.loc["nb", "test_acc_ci_high"],
    )


def test_a_seeded_classification_compare_agrees_with_itself(tmp_path, capsys):
    """`--seeds 2`: the accuracy, its interval and the per-class table's "All" describe the same
    mean over the seeds, and the caption says which numbers are the first seed's."""
    from econdl.compare import compare_main

    folder = write_noisy_digits(tmp_path / "digits")
    configs = [str(CONFIGS / f"mnist/{m}.yaml") for m in ("mlp", "naive_bayes")]
    fast = [f"--data.init_args.data_dir={folder}", "--data.init_args.val_size=50", "--trainer.max_epochs=1"]
    result = compare_main([*configs, *fast, "--seeds", "2", "--workers", "1", "--out", "cmp"])
    table, block = result.table, result.blocks["accuracy per class"]
    assert table.loc["mlp", "seeds"] == 2 and table.loc["mlp", "test_acc_std"] > 0  # the seeds differ
    for model in table.index:
        assert (
            table.loc[model, "test_acc_ci_low"] <= table.loc[model, "test_acc"] <= table.loc[model, "test_acc_ci_high"]
        )
        assert block.loc[(model, "Test Set"), "All"] == pytest.approx(table.loc[model, "test_acc"], abs=1e-9)
    progress = capsys.readouterr().out  # every seed's run is named, not the first alone
    assert "mlp: done in" in progress and "logs/mnist/mlp/version_0 (seed 0) and version_1 beside it" in progress
    console = comparison_text(table, result.blocks)
    assert "bootstrap of the test examples (of the mean over a model's seeds)" in console
    assert "tests use each model's first seed (seed 0)" in console


# --- the one formatter --------------------------------------------------------------------
def test_format_keeps_what_the_data_support_and_marks_the_best():
    table = pd.DataFrame(
        {
            "test_rmse": [2.638826, 2.9923, 3.03066],
            "test_rmse_std": [0.0, 0.2143, 0.0],
            "test_max_abs_err": [7.1, 7.9, 7.3],
            "test_max_abs_err_std": [0.0, 0.0, 0.0],  # says nothing: dropped
            "empty": [np.nan] * 3,  # says nothing: dropped
            "test_period": ["1999Q4-2009Q3"] * 3,  # the same everywhere: into the caption
            "params": [5.0, 225.0, 0.0],
            "fit_s": [0.39, 9.04, 0.13],
            "seeds": [1, 5, 1],
        },
        index=pd.Index(["ar", "mlp", "random_walk"], name="model"),
    )
    formatted = format_table(table)
    cells = formatted.cells
    assert list(cells.columns) == ["test RMSE", "max abs error", "parameters", "fit time", "seeds"]
    assert cells.loc["mlp", "test RMSE"] == "2.99 ± 0.21"
    assert cells.loc["ar", "test RMSE"] == "2.64"  # one seed: no ± 0
    assert cells.loc["mlp", "parameters"] == "225" and cells.loc["mlp", "fit time"] == "9.0 s"
    assert formatted.best.loc["ar", "test RMSE"] and not formatted.best["parameters"].any()
    # equal up to float rounding (the same least-squares fit in two bases): both are the best
    tied = format_table(table.assign(test_rmse=[2.638826, 2.6388260001, 3.03066])).best["test RMSE"]
    assert tied.tolist() == [True, True, False]
    assert not format_table(table.assign(test_rmse=[2.6, 2.6 * (1 + 1e-12), 2.6])).best["test RMSE"].any()
    assert "test period: 1999Q4-2009Q3" in formatted.caption
    first_seed = "tests use each model's first seed (seed 0), not the mean over its seeds"
    assert first_seed not in formatted.caption  # no test in this table
    tested = format_table(table.assign(dm_pvalue=[np.nan, 0.04, 0.3]))
    assert first_seed in tested.caption  # a p-value next to a mean over seeds is of the first seed
    assert first_seed not in format_table(table.assign(dm_pvalue=0.04, seeds=1)).caption
    few = "only 5 test forecasts: the tests' p-values rest on large-sample approximations"
    assert any(line.startswith(few) for line in format_table(table.assign(dm_pvalue=0.04, n_test=5)).caption)
    assert not any("test forecasts:" in line for line in format_table(table.assign(dm_pvalue=0.04, n_test=40)).caption)
    assert not any("test forecasts:" in line for line in format_table(table.assign(n_test=5)).caption)  # no test
    text = to_console(table)
    assert "std" not in text.split("\n")[0] and "2.64 *" in text and "best in its column" in text
    assert [significant(v) for v in (0.00073, 4.0e-5, 5601.0, 0.1951)] == ["0.000730", "4.00e-05", "5,601", "0.195"]
    assert with_std(0.000731, 0.0000512) == "7.31e-04 ± 5.1e-05"


def test_p_values_seed_counts_and_the_few_forecasts_caveat_at_its_bounds():
    table = pd.DataFrame(
        {"test_rmse": [2.6, 2.9, 3.1], "dm_pvalue": [np.nan, 0.0004, 0.04], "n_test": [20, 20, 20], "seeds": [1, 1, 1]},
        index=pd.Index(["ar", "mlp", "mean"], name="model"),
    )
    formatted = format_table(table)
    assert formatted.cells["DM p"].tolist() == ["–", "<0.001", "0.040"]  # three decimals, tiny ones as a bound
    # 20 test forecasts are enough (the caveat is for fewer); one seed each: no "mean ± std" line
    assert not any("test forecasts:" in line or "mean ± std" in line for line in formatted.caption)
    assert any(line.startswith("only 19 test forecasts") for line in format_table(table.assign(n_test=19)).caption)
    assert "mean ± std over 3 seeds" in format_table(table.assign(seeds=3)).caption


def test_significance_columns_follow_the_accuracy_they_qualify():
    """table.csv: test_acc (and its std), then its interval and the McNemar p-values, then the rest;
    the values are significance_table's, matched by model name whatever the table's order."""
    from types import SimpleNamespace

    import torch

    from econdl.report.outputs import add_significance

    targets = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    good, poor = targets.copy(), targets.copy()
    poor[[0, 1, 2, 3]] = (poor[[0, 1, 2, 3]] + 1) % 3
    dm = SimpleNamespace(class_names=["a", "b", "c"], test_targets=lambda: torch.as_tensor(targets))
    predictions = {"good": [torch.as_tensor(good)], "poor": [torch.as_tensor(poor)]}
    table = pd.DataFrame(
        {"test_acc": [0.6, 1.0], "test_acc_std": [0.0, 0.0], "params": [10, 20]},
        index=pd.Index(["poor", "good"], name="model"),
    )
    out = add_significance(table, predictions, dm)
    extra = ["test_acc_ci_low", "test_acc_ci_high", "p_vs_best", "p_vs_best_raw"]
    assert list(out.columns) == ["test_acc", "test_acc_std", *extra, "params"]
    assert list(add_significance(table.drop(columns="test_acc_std"), predictions, dm).columns) == [
        "test_acc",
        *extra,
        "params",
    ]
    expected = significance_table({"good": good, "poor": poor}, targets)
    pd.testing.assert_frame_equal(out[extra], expected.loc[["poor", "good"], extra], check_names=False)


def test_a_bootstrap_interval_is_shown_low_then_high_beside_its_value():
    table = pd.DataFrame(
        {
            "test_acc": [0.85, 0.61],
            "test_acc_ci_low": [0.80, 0.55],
            "test_acc_ci_high": [0.90, 0.67],
        },
        index=pd.Index(["mlp", "lasso"], name="model"),
    )
    cells = format_table(table).cells
    assert list(cells.columns) == ["test accuracy [95% CI]"]
    assert cells["test accuracy [95% CI]"].tolist() == ["0.850 [0.800, 0.900]", "0.610 [0.550, 0.670]"]


def test_a_table_of_several_horizons_marks_the_best_at_each_and_keeps_interval_results_in_the_body():
    table = pd.DataFrame(
        {
            "horizon": [1, 2, 1, 2],
            "test_rmse": [2.0, 3.0, 2.5, 2.9],  # ar wins at h=1, mlp at h=2 (never against another horizon)
            "coverage_95": [1.0] * 4,  # a result, even where every model has the same one
            "width_95": [float("inf")] * 4,  # a validation period too short for a 95% interval
            "width_80": [4.0, 5.0, 4.2, 5.1],
            "width_97.5": [float("inf")] * 4,  # a level that is not a whole number
            "n_test": [7] * 4,  # a setting: under the table
        },
        index=pd.Index(["ar", "ar", "mlp", "mlp"], name="model"),
    )
    formatted = format_table(table)
    assert formatted.best["test RMSE"].tolist() == [True, False, False, True]
    assert {"coverage 95", "width 95", "width 80"} <= set(formatted.cells.columns)
    assert formatted.cells["width 95"].tolist() == ["∞"] * 4
    assert "n test: 7" in formatted.caption and "best values are marked at each horizon" in formatted.caption
    assert any(
        line.startswith(
            "width 95 ∞: too few validation forecasts for a 95% split-conformal interval (it needs at least 19)"
        )
        for line in formatted.caption
    )
    assert not any(line.startswith("width 80 ∞") for line in formatted.caption)
    words = "97.5% split-conformal interval (it needs at least 39)"  # 38 errors give rank ceil(39 x 0.975) = 39
    assert any(line.startswith("width 97.5 ∞") and words in line for line in formatted.caption), formatted.caption
    # cut into parts to fit a narrow terminal, each part keeps the horizon that tells rows apart
    parts = to_console(table, width=40).split("\n\n")
    cut = [p for p in parts if p.lstrip().startswith("model")]
    assert len(cut) >= 2 and all(p.splitlines()[0].split()[:2] == ["model", "horizon"] for p in cut), parts


# --- report.html of a classification comparison --------------------------------------------
def write_noisy_digits(folder: Path, noise: float = 0.45) -> Path:
    """MNIST files of synthetic digits with ``noise`` of the pixels replaced at random, so that
    naive Bayes and a one-epoch LASSO logit reach different accuracies."""
    folder.mkdir(parents=True, exist_ok=True)
    for part, n, seed in (("train", 400, 0), ("t10k", 200, 1)):
        images, labels = digit_images(n, seed)
        rng = np.random.default_rng(seed + 10)
        hit = rng.random(images.shape) < noise
        images[hit] = rng.integers(0, 256, size=int(hit.sum()))
        write_idx(folder / f"{part}-images-idx3-ubyte", images, False)
        write_idx(folder / f"{part}-labels-idx1-ubyte", labels, False)
    return folder


@pytest.fixture(scope="module")
def digits_compare(tmp_path_factory):
    """naive Bayes and LASSO logit on 400 synthetic digits, compared once for this module."""
    from econdl.compare import compare_main

    root = tmp_path_factory.mktemp("digits_compare")
    folder = write_noisy_digits(root / "digits")
    configs = [str(CONFIGS / f"mnist/{m}.yaml") for m in ("naive_bayes", "lasso")]
    fast = [
        f"--data.init_args.data_dir={folder}",
        "--data.init_args.val_size=50",
        "--trainer.max_epochs=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]
    here = os.getcwd()
    os.chdir(root)  # the fits' logs/ stay in this module's folder
    try:
        result = compare_main([*configs, *fast, "--workers", "1", "--out", str(root / "cmp")])
    finally:
        os.chdir(here)
    return root, result


def test_classification_table_has_intervals_and_mcnemar(digits_compare):
    root, result = digits_compare
    table = result.table
    assert {"test_acc_ci_low", "test_acc_ci_high", "p_vs_best"} <= set(table.columns)
    assert (table["test_acc_ci_low"] <= table["test_acc"]).all()
    assert (table["test_acc"] <= table["test_acc_ci_high"]).all()
    assert table["p_vs_best"].isna().sum() == 1  # the best model is not tested against itself
    assert table["test_acc"].nunique() == 2 and table["p_vs_best"].min() < 0.05
    console = comparison_text(result.table, result.blocks)
    best = table["test_acc"].idxmax()
    best_line = next(line for line in console.splitlines() if line.startswith(best))
    assert "] *" in best_line  # interval shown, best marked
    assert "McNemar p vs best (Holm)" in console and "Training Set" in console
    md = (result.out_dir / "table.md").read_text()
    assert "test accuracy [95% CI]" in md and "McNemar p vs best (Holm)" in md and "**" in md
    assert (result.out_dir / "command.txt").read_text().startswith("econdl compare ")


def test_compare_report_holds_every_part(digits_compare):
    root, result = digits_compare
    html = (result.out_dir / "report.html").read_text()
    for part in (
        "test accuracy [95% CI]",
        "Training Set",
        "Test Set",
        "<details>",
        "naive_bayes",
        "lightning",
        "econdl compare ",
        "git commit",
        "class_path",
    ):
        assert part in html, part
    assert html.count('src="data:image/png;base64,') == 2  # each model's confusion matrix
    assert "naive_bayes: confusion matrix" in html and "lasso: confusion matrix" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_econdl_report_on_a_fit_and_a_sweep_directory(digits_compare, tmp_path):
    root, result = digits_compare
    fit_dir = next((root / "logs/mnist/lasso").glob("version_*"))
    sweep = tmp_path / "sweeps/kink_mlp"
    sweep.mkdir(parents=True)
    pd.DataFrame(
        {"trial": [0, 1], "state": ["COMPLETE", "PRUNED"], "val/loss": [0.01, 0.2], "duration_s": [3.0, 1.0]}
    ).to_csv(sweep / "trials.csv", index=False)
    (sweep / "best_config.yaml").write_text("trainer:\n  max_epochs: 30\n")
    (sweep / "sweep.png").write_bytes(next(fit_dir.glob("*.png")).read_bytes())
    main(["report", str(fit_dir), str(sweep)])  # as `econdl report FIT_DIR SWEEP_DIR`
    fit_html, sweep_html = ((d / "report.html").read_text() for d in (fit_dir, sweep))
    assert "Fit: mnist/lasso" in fit_html and "Training Set" in fit_html and "data:image/png" in fit_html
    assert "Sweep: kink_mlp" in sweep_html and "val/loss" in sweep_html and "max_epochs: 30" in sweep_html
    # the sweep's plot is in the page itself (a data URI of the file's bytes), under its caption
    png = base64.b64encode((sweep / "sweep.png").read_bytes()).decode("ascii")
    assert f'<img src="data:image/png;base64,{png}" alt="sweep"><figcaption>sweep</figcaption>' in sweep_html
    with pytest.raises(ValueError, match="holds no run"):
        write_report(tmp_path)


NO_CHROMIUM = "no chromium binary (Debian: apt-get install -y chromium); .ci/run installs it"


@pytest.mark.skipif(find_chromium() is None, reason=NO_CHROMIUM)
def test_report_renders_in_headless_chromium_offline(digits_compare, tmp_path):
    pytest.importorskip("websocket", reason="the DevTools check needs websocket-client (dev extras)")
    root, result = digits_compare
    shot = tmp_path / "report.png"
    page = check_page(result.out_dir / "report.html", shot)
    assert page.images == 2 and page.decoded == page.images
    assert page.requests == []  # nothing but the file itself was loaded
    assert page.text_chars > 500 and not_blank(shot)


def test_a_screenshot_is_blank_unless_a_share_of_its_pixels_differs_from_the_background(tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    image = Image.new("RGB", (100, 100), "white")
    image.save(shot)
    assert not not_blank(shot)
    image.paste((200, 200, 200), (0, 50, 20, 70))  # 400 of 10,000 pixels, a light grey 55 below white
    image.save(shot)
    assert not_blank(shot, min_share=0.04) and not not_blank(shot, min_share=0.05)


@pytest.mark.skipif(find_chromium() is None, reason=NO_CHROMIUM)
def test_the_browser_check_counts_an_image_that_cannot_decode_as_not_decoded(tmp_path):
    pytest.importorskip("websocket", reason="the DevTools check needs websocket-client (dev extras)")
    from io import BytesIO

    from PIL import Image

    png = BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, format="PNG")
    good = base64.b64encode(png.getvalue()).decode("ascii")
    broken = base64.b64encode(b"not a png at all").decode("ascii")
    page = tmp_path / "page.html"
    page.write_text(
        f'<html><body><p>two images</p><img src="data:image/png;base64,{good}">'
        f'<img src="data:image/png;base64,{broken}"></body></html>'
    )
    check = check_page(page)
    assert (check.images, check.decoded, check.requests) == (2, 1, [])


def test_a_compare_report_names_each_models_run_folders(tmp_path):
    """A model fitted once is shown with its run folder; one fitted with seeds lists them all."""
    import json

    from econdl.report.collect import collect

    runs = {"ar": [tmp_path / "logs/gdp/ar/version_0"], "mlp": [tmp_path / f"logs/gdp/mlp/version_{k}" for k in (0, 1)]}
    for dirs in runs.values():
        for folder in dirs:
            folder.mkdir(parents=True)
            (folder / "config.yaml").write_text(f"# {folder.name}\n")
    run_dir = tmp_path / "cmp"
    run_dir.mkdir()
    pd.DataFrame({"model": ["ar", "mlp"], "test_rmse": [2.0, 2.5]}).to_csv(run_dir / "table.csv", index=False)
    info = {"task": "gdp", "runs": {name: [str(d) for d in dirs] for name, dirs in runs.items()}}
    (run_dir / "run_info.json").write_text(json.dumps(info))
    names = [name for name, _ in collect(run_dir).configs]
    assert names == [
        "ar (logs/gdp/ar/version_0)",
        "mlp (seed runs: logs/gdp/mlp/version_0, logs/gdp/mlp/version_1)",
    ]


def test_horizons_and_test_counts_print_as_whole_numbers():
    table = pd.DataFrame(
        {"horizon": [1, 2, 1, 2], "n_test": [40, 39, 40, 39], "test_rmse": [2.64, 2.87, 3.16, 3.18]},
        index=pd.Index(["ar", "ar", "mean", "mean"], name="model"),
    ).astype({"horizon": float, "n_test": float})  # as read back from table.csv beside float columns
    cells = format_table(table).cells
    assert list(cells["horizon"]) == ["1", "2", "1", "2"] and list(cells["n test"]) == ["40", "39", "40", "39"]


def test_report_of_a_file_a_missing_path_or_a_folder_that_is_no_run_is_one_line(tmp_path, capsys):
    from econdl.main import main

    (tmp_path / "run").mkdir()
    (tmp_path / "run/metrics.csv").write_text("epoch,val/loss\n0,1.0\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "run/checkpoints").mkdir()
    (tmp_path / "run/checkpoints/last.ckpt").write_bytes(b"")
    expected = {
        "run/metrics.csv": "run/metrics.csv is a file; econdl report takes the run directory that holds it: "
        "econdl report run",
        "run/checkpoints/last.ckpt": "holds it: econdl report run",
        "nowhere": "run directory nowhere does not exist",
        "empty": "empty holds no run: give a folder made by econdl compare",
    }
    for path, words in expected.items():
        with pytest.raises(SystemExit) as stop:
            main(["report", path])
        err = capsys.readouterr().err
        assert stop.value.code == 1 and words in err.splitlines()[0], err


def test_a_report_of_an_untested_fit_says_why_and_its_commands_test_it(tmp_path):
    """A fit stopped before its test (here: test_after_fit false) had a report with no results and
    no word why; it now says so and gives the commands that finish or test it, which work."""
    import html

    from econdl.cli import cli_main
    from helpers import FAST

    args = ["fit", "--config", str(CONFIGS / "kink/polynomial.yaml"), *FAST]
    cli = cli_main([*args, "--test_after_fit=false"])
    run = Path(cli.trainer.log_dir)
    main(["report", str(run)])
    text = html.unescape((run / "report.html").read_text())
    assert "no test results: the fit ended before its test" in text
    assert cli.trainer.current_epoch == 1  # how far it got, from its own files
    assert "(metrics.csv holds 1 epoch; last.ckpt holds 1 epoch done)" in text
    command = f"econdl test --config {run / 'config.yaml'} --ckpt_path best"
    assert command in text
    tested = cli_main(command.split()[1:])
    assert float(tested.trainer.callback_metrics["test/rmse"]) > 0
    main(["report", tested.trainer.log_dir])
    text = html.unescape((Path(tested.trainer.log_dir) / "report.html").read_text())
    assert "no test results" not in text and "test RMSE" in text


def test_a_fit_killed_in_its_first_epoch_reports_0_epochs_and_draws_no_one_point_curve(tmp_path):
    """metrics.csv with one epoch's rows and a last.ckpt of no finished epoch: the note counts
    in words ("0 epochs", "1 epoch"), and a loss curve needs two epochs to be drawn."""
    import torch

    from econdl.report.collect import collect

    run = tmp_path / "logs/kink/mlp/version_0"
    (run / "checkpoints").mkdir(parents=True)
    (run / "metrics.csv").write_text("epoch,step,train/loss,val/loss\n0,3,0.5,\n0,3,,0.4\n")
    progress = {"current": {"completed": 0}}
    torch.save({"state_dict": {}, "loops": {"fit_loop": {"epoch_progress": progress}}}, run / "checkpoints/last.ckpt")
    content = collect(run)
    assert content.images == []
    assert "(metrics.csv holds 1 epoch; last.ckpt holds 0 epochs done)" in " ".join(content.notes)


def test_a_fit_report_command_on_a_path_with_spaces_can_be_pasted(tmp_path):
    """The report's command to reproduce a fit named a config path with spaces unquoted, which
    the shell split; quoted, the command runs as shown."""
    import html
    import shlex

    from econdl.cli import cli_main
    from helpers import FAST

    cli = cli_main(["fit", "--config", str(CONFIGS / "kink/polynomial.yaml"), *FAST])
    copy = tmp_path / "copied runs" / "fit poly"
    shutil.copytree(cli.trainer.log_dir, copy)
    (copy / "report.html").unlink(missing_ok=True)
    main(["report", str(copy)])
    text = html.unescape((copy / "report.html").read_text())
    command = re.search(r"<pre>(econdl fit --config .*?)</pre>", text)
    assert command is not None and shlex.split(command.group(1)) == ["econdl", "fit", "--config", f"{copy}/config.yaml"]


def test_a_gdp_fit_report_says_its_loss_is_in_standardised_units(tmp_path):
    """The report put "test loss 0.459" (standardised targets) beside "test RMSE 2.64"
    (percentage points) with nothing to tell them apart, and the scores in alphabetical order."""
    import html

    from econdl.cli import cli_main
    from helpers import FAST

    cli = cli_main(["fit", "--config", str(CONFIGS / "gdp/ar.yaml"), *FAST[-2:]])
    run = Path(cli.trainer.log_dir)
    main(["report", str(run)])
    text = html.unescape((run / "report.html").read_text())
    results = text[text.index('results">') :]
    headings = re.findall(r"<th>([^<]+)</th>", results[: results.index("</tr>")])
    assert headings[:2] == ["model", "test RMSE"] and "test loss (standardised units)" in headings, headings


def test_a_report_of_a_predict_run_says_where_its_predictions_are(tmp_path):
    """It was headed "Fit" and said there was no metrics.csv because of a missing logger."""
    import html

    from econdl.cli import cli_main
    from helpers import FAST

    config = ["--config", str(CONFIGS / "gdp/ar.yaml"), *FAST[-2:]]
    cli_main(["fit", *config])
    predicted = cli_main(["predict", *config, "--ckpt_path=last"])
    run = Path(predicted.trainer.log_dir)
    main(["report", str(run)])
    text = html.unescape((run / "report.html").read_text())
    assert "<h1>Predictions: gdp/ar</h1>" in text and "no metrics.csv" not in text
    assert f"an econdl predict run: 1 prediction is in {run / 'predictions.csv'}" in text


def test_a_fit_report_shows_the_last_test_score_in_metrics_csv(tmp_path):
    """A run tested twice (a fit, then `econdl test` into the same metrics.csv, or a resumed fit)
    holds two test rows: the report shows the later one."""
    import html

    run = tmp_path / "logs/mnist/mlp/version_0"
    run.mkdir(parents=True)
    pd.DataFrame(
        {"epoch": [0, 1, 1, 1], "val/loss": [0.9, 0.7, np.nan, np.nan], "test/acc": [np.nan, np.nan, 0.625, 0.875]}
    ).to_csv(run / "metrics.csv", index=False)
    main(["report", str(run)])
    text = html.unescape((run / "report.html").read_text())
    results = text[text.index('results">') :]
    results = results[: results.index("</table>")]
    assert "test accuracy" in results and "0.875" in results and "0.625" not in results


def test_progress_lines_count_closed_form_models_once_and_name_the_seeds():
    from econdl.report.console import Progress, done_line, planned_fits

    cheb, mlp = CONFIGS / "kink/chebyshev.yaml", CONFIGS / "kink/mlp.yaml"
    assert planned_fits([cheb, mlp], seeds=3) == 1 + 3 and planned_fits([cheb, mlp], seeds=1) == 2
    progress = Progress(4)
    assert progress.line(cheb, seed=0, seeds=3) == "[1/4] kink/chebyshev"  # fitted once, whatever the seeds
    assert progress.line(mlp, seed=2, seeds=3) == "[2/4] kink/mlp seed 2 of 0..2"
    assert done_line(3, 4, mlp, [0, 1], 3) == "[3/4] kink/mlp seeds 0..1 of 0..2 done"
    assert done_line(4, 4, mlp, [2], 3) == "[4/4] kink/mlp seed 2 of 0..2 done"
    assert done_line(1, 1, cheb, [None], 3) == "[1/1] kink/chebyshev done"


def test_run_info_quotes_the_command_and_keeps_an_empty_list_of_plots(tmp_path):
    import json

    from econdl.report.environment import command_line, write_run_info

    command = command_line("compare", ["configs/kink", "--out", "my results"])
    assert command == "econdl compare configs/kink --out 'my results'"  # pastes back as one argument
    write_run_info(tmp_path, command, {}, {}, plots=[])
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert info["plots"] == [] and info["command"] == command  # drew none: no stray PNG is shown
    assert (tmp_path / "command.txt").read_text() == command + "\n"
    write_run_info(tmp_path, command, {}, {})
    assert "plots" not in json.loads((tmp_path / "run_info.json").read_text())


def test_the_commit_says_local_changes_only_when_tracked_files_differ(tmp_path, monkeypatch):
    import subprocess

    from econdl.report import environment

    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    source = repo / "pkg/environment.py"
    source.write_text("x = 1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    monkeypatch.setattr(environment, "__file__", str(source))
    assert environment.git_commit() == head[:12]
    (repo / "pkg/untracked.txt").write_text("not part of the code\n")
    assert environment.git_commit() == head[:12]
    source.write_text("x = 2\n")
    assert environment.git_commit() == head[:12] + " + local changes"
