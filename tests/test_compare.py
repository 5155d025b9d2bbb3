"""`econdl compare` on the kink task: one table, files written, the same data for every model."""

import pandas as pd
import pytest

from helpers import CONFIGS, FAST, run_econdl
from econdl.compare import compare_main


def test_compare_fits_every_config_and_writes_table_and_plot(tmp_path, capsys):
    result = compare_main(
        [
            *[str(CONFIGS / "kink"), *FAST, "--trainer.max_epochs=2", "--workers", "1"],
            *["--out", str(tmp_path / "cmp"), "--relative_to", "polynomial"],
        ]
    )
    table = result.table
    assert list(table.index) == ["chebyshev", "mlp", "polynomial", "relu_basis"]
    # each model's test RMSE over the reference's (< 1: it beats the polynomial)
    relative = table["test_rmse"] / table.loc["polynomial", "test_rmse"]
    assert table["rmse_vs_polynomial"].to_numpy() == pytest.approx(relative.to_numpy(), rel=1e-12)
    assert table.loc["polynomial", "rmse_vs_polynomial"] == 1 and table.loc["mlp", "rmse_vs_polynomial"] != 1
    assert {"test_mse", "test_max_abs_err", "mse_near_break", "params", "fit_s"} <= set(table.columns)
    # same basis span, same data: the two least-squares polynomials agree
    assert table.loc["polynomial", "test_mse"] == pytest.approx(table.loc["chebyshev", "test_mse"], rel=1e-6)
    assert table.loc["polynomial", "params"] == 11 and table.loc["relu_basis", "params"] == 21
    assert (table["mse_near_break"] > table["mse_away_from_break"]).all()  # error sits at the jump
    written = pd.read_csv(tmp_path / "cmp/table.csv", index_col=0)
    assert written.loc["mlp", "test_mse"] == pytest.approx(table.loc["mlp", "test_mse"])
    assert (tmp_path / "cmp/table.md").read_text().count("|") > 20
    assert (tmp_path / "cmp/predictions.png").stat().st_size > 10_000
    out = capsys.readouterr().out
    # one progress line per fit, then the table as in the README: readable headings, 3
    # significant digits, the best value of each column marked, no column of zero stds
    assert "[1/4] kink/chebyshev" in out and "[4/4] kink/relu_basis" in out
    # the splits every model used, said once, not once per fit
    assert out.count("kink: 512 train / 128 val / 101 test points\n") == 1, out
    printed = out[out.index("test MSE") :]
    assert "MSE near the break" in printed and "relu_basis" in printed and "_std" not in printed
    assert " *" in printed and "best in its column" in printed
    relu_rows = " ".join(line for line in printed.splitlines() if line.startswith("relu_basis"))  # wide: 2 parts
    assert f"{table.loc['relu_basis', 'params']:,.0f}" in relu_rows and "fit time" in printed
    assert "**" in (tmp_path / "cmp/table.md").read_text()  # best values in bold
    report = (tmp_path / "cmp/report.html").read_text()
    assert "MSE near the break" in report and 'src="data:image/png;base64,' in report
    for model in table.index:  # each model kept its own run directory
        assert (tmp_path / f"logs/kink/{model}/version_0/checkpoints/last.ckpt").is_file()


def test_compare_of_a_missing_folder_fails_naming_it(tmp_path):
    """The exit status is fit's for a --config it cannot find (2), for a config folder, a
    config file, a folder without configs and a sweep file alike."""
    fit = run_econdl("fit", "--config", "configs/nowhere.yaml")
    assert fit.returncode == 2 and "configs/nowhere.yaml does not exist" in fit.stderr
    result = run_econdl("compare", "configs/nowhere/")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "configs/nowhere" in result.stderr and "does not exist" in result.stderr
    one = run_econdl("compare", str(tmp_path / "nowhere.yaml"))
    assert one.returncode == 2 and "nowhere.yaml does not exist" in one.stderr
    empty = run_econdl("compare", str(tmp_path))
    assert empty.returncode == 2 and f"no *.yaml configs in folder {tmp_path}" in empty.stderr
    sweep = run_econdl("sweep", "--config", str(tmp_path / "sweep.yaml"))
    assert sweep.returncode == 2 and "sweep.yaml does not exist" in sweep.stderr
    folder = run_econdl("sweep", "--config", str(CONFIGS / "sweeps"))  # a folder: the file in it is named
    assert folder.returncode == 2 and "is a folder; give one sweep file in it, e.g. " in folder.stderr
    assert "sweeps/kink_mlp.yaml" in folder.stderr


def test_compare_writes_its_table_beside_the_fits_under_default_root_dir(tmp_path):
    """The table goes beside the fits, under --trainer.default_root_dir (it went to ./logs, away from them)."""
    closed_form = [str(CONFIGS / "kink" / f"{name}.yaml") for name in ("polynomial", "chebyshev")]
    compare_main([*closed_form, *FAST, "--workers", "1", "--trainer.default_root_dir", "R"])
    assert (tmp_path / "R/kink/compare/version_0/table.csv").is_file()
    assert (tmp_path / "R/kink/polynomial/version_0/checkpoints/last.ckpt").is_file()
    assert not (tmp_path / "logs").exists()


def test_a_logger_save_dir_on_the_command_line_places_the_table_before_default_root_dir():
    """runs_root's docstring: a logger save_dir given on the command line, else
    --trainer.default_root_dir, else logs; whichever order they are given in."""
    from pathlib import Path

    from econdl.compare import runs_root

    both = ["--trainer.default_root_dir", "R", "--trainer.logger.init_args.save_dir=S"]
    assert runs_root(both) == runs_root(both[::-1]) == Path("S")
    assert runs_root(["--trainer.default_root_dir=R"]) == Path("R") and runs_root([]) == Path("logs")


def test_a_seeded_row_holds_the_mean_and_sample_std_of_each_score():
    """--seeds 3: each score column is the mean over the seeds, its _std the sample standard
    deviation (ddof 1); what is no score (the parameter count) gets no _std."""
    from types import SimpleNamespace

    import numpy as np
    import torch

    from econdl.compare import summary_row

    rmse, mae = [1.0, 2.0, 4.0], [0.5, 1.5, 1.0]
    runs = [
        {
            "data": SimpleNamespace(),
            "model": torch.nn.Linear(2, 1),
            "fit_s": 1.0,
            "metrics": {"test/rmse": r, "test/mae": m},
        }
        for r, m in zip(rmse, mae, strict=True)
    ]
    row = summary_row("mlp", runs, seeds=3)
    assert row["test_rmse"] == pytest.approx(np.mean(rmse)) and row["test_rmse_std"] == pytest.approx(
        np.std(rmse, ddof=1)
    )
    assert row["test_mae_std"] == pytest.approx(np.std(mae, ddof=1))
    assert row["params"] == 3 and "params_std" not in row and row["seeds"] == 3


@pytest.mark.parametrize("option", [["--relative_to", "arr"], ["--data.relative_to", "arr"]])
def test_a_reference_model_not_compared_is_refused_before_any_fit(tmp_path, monkeypatch, option):
    from econdl import compare as compare_module
    from econdl.errors import ConfigError

    def no_fit(*args, **kwargs):
        raise AssertionError("a fit ran before the reference model was checked")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(compare_module, "fit_in_parallel", no_fit)
    monkeypatch.setattr(compare_module, "fit_seeds", no_fit)
    with pytest.raises(ConfigError, match=r"relative_to arr: no such model in the comparison; choose one of \['ar', "):
        compare_main([str(CONFIGS / "gdp" / "ar.yaml"), str(CONFIGS / "gdp" / "mean.yaml"), *option])
    assert not (tmp_path / "logs").exists()


def test_configs_in_the_current_folder_run_under_logs_named_after_it(tmp_path, monkeypatch):
    """`mlp.yaml` in a folder `wages`, given without a folder: its runs go to logs/wages/<model>/,
    not to /<model> (the empty name of the path's folder), and the comparison goes beside them."""
    import shutil
    from pathlib import Path

    from econdl.cli import cli_main

    work = tmp_path / "wages"
    work.mkdir()
    for name in ("polynomial", "chebyshev"):
        shutil.copy(CONFIGS / "kink" / f"{name}.yaml", work)
    monkeypatch.chdir(work)
    cli = cli_main(["fit", "--config", "polynomial.yaml", *FAST])
    assert Path(cli.trainer.log_dir).resolve() == work / "logs/wages/polynomial/version_0"
    result = compare_main([".", *FAST, "--workers", "1"])
    assert result.out_dir.resolve() == work / "logs/wages/compare/version_0"
    assert (work / "logs/wages/chebyshev/version_0/checkpoints/last.ckpt").is_file()


def test_configs_of_other_data_or_of_one_name_are_refused_before_any_fit(tmp_path):
    """A folder mixing tasks fitted every config, then failed with no table; two configs of the
    same file name gave two rows of one name. Both are now refused before anything is fitted."""
    import shutil

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(CONFIGS / "kink/polynomial.yaml", mixed)
    shutil.copy(CONFIGS / "linear/sgd.yaml", mixed)
    result = run_econdl("compare", "mixed")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "mixed/sgd.yaml reads its data with econdl.data.LinearDataModule and mixed/polynomial.yaml with " in (
        result.stderr
    )
    assert "econdl.data.KinkDataModule" in result.stderr and "must share their data" in result.stderr
    twice = run_econdl("compare", str(CONFIGS / "kink/polynomial.yaml"), "mixed/polynomial.yaml")
    assert twice.returncode == 1 and "would both be the row 'polynomial' of the table" in twice.stderr
    assert not (tmp_path / "logs").exists()
    # one class under two paths is one data module
    same = tmp_path / "same"
    same.mkdir()
    shutil.copy(CONFIGS / "kink/polynomial.yaml", same)
    text = (CONFIGS / "kink/chebyshev.yaml").read_text()
    (same / "chebyshev.yaml").write_text(text.replace("econdl.data.KinkDataModule", "econdl.data.kink.KinkDataModule"))
    assert run_econdl("compare", "same", *FAST).returncode == 0


def test_an_option_one_config_does_not_take_leaves_that_config_out_naming_it(tmp_path):
    """--optimizer.lr reaches every config of a comparison; a closed-form one has no optimizer.
    The comparison ended with the parser's line, naming no config; now that config is left out
    with its reason and the others are tabled."""
    configs = [str(CONFIGS / "kink" / f"{name}.yaml") for name in ("mlp", "polynomial")]
    result = run_econdl("compare", *configs, *FAST, "--trainer.max_epochs=1", "--optimizer.lr=0.001")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "failed: polynomial: --optimizer (torch.optim.Optimizer): Option 'lr' is not accepted by " in result.stdout
    assert "econdl compare gives every option on its command line to every config" in result.stdout
    table = pd.read_csv(tmp_path / "logs/kink/compare/version_0/table.csv", index_col=0)
    assert list(table.index) == ["mlp"]


def test_a_value_of_the_wrong_type_is_named_as_such_not_as_an_option_a_config_does_not_take(tmp_path):
    """--data.interval_levels 95 (a list is taken) was reported, for every config, as an option
    that config does not take, with the advice to compare the configs that take it: every
    config takes it, the value needs brackets."""
    configs = [str(CONFIGS / "gdp" / f"{name}.yaml") for name in ("ar", "mean")]
    result = run_econdl("compare", *configs, "--data.interval_levels", "95")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for name in ("ar", "mean"):
        assert (
            f"{name}: failed: --data.interval_levels (econdl.data.GDPDataModule): expected "
            "collections.abc.Sequence. Got value: 95; --data.interval_levels takes a list: write it in brackets, "
            f"e.g. --data.interval_levels [95] (config {configs[0 if name == 'ar' else 1]})"
        ) in result.stdout
    assert "every option on its command line" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (["--optimizer", "Foo"], "--optimizer: Expected a dot import path string: Foo"),
        (["--trainer.callbacks+=Foo"], "--trainer.callbacks: Expected a dot import path string: Foo"),
    ],
)
def test_a_class_path_that_is_none_is_the_value_s_mistake_not_an_option_a_config_does_not_take(option, said):
    """jsonargparse words some refusals of a value without 'expected': they were reported as an
    option the config does not take, with the advice to compare the configs that take it."""
    configs = [str(CONFIGS / "gdp" / f"{name}.yaml") for name in ("ar", "mean")]
    result = run_econdl("compare", *configs, *option)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{said} (config {configs[0]})" in result.stderr
    assert "every option on its command line" not in result.stdout + result.stderr


def test_an_out_folder_already_used_is_refused_before_any_fit_and_left_as_it_was(tmp_path, monkeypatch):
    """A second comparison given the --out of a first replaced its table, report and plot without
    a word (and a fit's folder lost its predictions.csv); now it is refused before any fit."""
    from econdl import compare as compare_module
    from econdl.errors import ConfigError

    closed_form = [str(CONFIGS / "kink" / f"{name}.yaml") for name in ("polynomial", "chebyshev")]
    compare_main([*closed_form, *FAST, "--workers", "1", "--out", "cmp"])
    before = {p.name: p.read_bytes() for p in (tmp_path / "cmp").iterdir()}
    assert {"table.csv", "report.html", "predictions.png"} <= set(before)

    def no_fit(*args, **kwargs):
        raise AssertionError("a fit ran before --out was checked")

    with monkeypatch.context() as patch:
        patch.setattr(compare_module, "fit_in_parallel", no_fit)
        patch.setattr(compare_module, "fit_seeds", no_fit)
        with pytest.raises(ConfigError, match=r"--out cmp already holds files \(command\.txt, predictions\.png, "):
            compare_main([closed_form[0], *FAST, "--workers", "1", "--out", "cmp"])
        assert {p.name: p.read_bytes() for p in (tmp_path / "cmp").iterdir()} == before
        (tmp_path / "a_file").write_text("x")
        with pytest.raises(ConfigError, match="--out a_file is a file"):
            compare_main([closed_form[0], *FAST, "--out", "a_file"])
    (tmp_path / "empty").mkdir()  # an empty folder is as good as a new one
    compare_main([closed_form[0], *FAST, "--workers", "1", "--out", "empty"])
    assert (tmp_path / "empty/table.csv").is_file()


def test_a_compare_report_shows_its_own_plots_under_its_task_name(tmp_path):
    """The report showed every PNG in the folder (a plot copied there from another task too), and
    took its title from the folder's name rather than the task."""
    from econdl.main import main

    compare_main([str(CONFIGS / "kink" / "polynomial.yaml"), *FAST, "--workers", "1", "--out", "my table"])
    folder = tmp_path / "my table"
    (folder / "fan_chart.png").write_bytes((folder / "predictions.png").read_bytes())  # a stranger's plot
    main(["report", str(folder)])
    html = (folder / "report.html").read_text()
    assert "Comparison: kink" in html and "Comparison: my table" not in html
    assert "fan chart" not in html and "predictions" in html


def test_a_compare_report_whose_fit_folders_are_gone_says_so(tmp_path):
    """Its plots and configs sections vanished without a word."""
    import shutil

    from econdl.main import main

    compare_main([str(CONFIGS / "kink" / "polynomial.yaml"), *FAST, "--workers", "1", "--out", "cmp"])
    shutil.rmtree(tmp_path / "logs/kink/polynomial")
    main(["report", "cmp"])
    html = (tmp_path / "cmp/report.html").read_text()
    assert "the run folders of polynomial (" in html and "are gone (moved or deleted)" in html
