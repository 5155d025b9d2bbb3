"""Closed-form baselines against trusted oracles (numpy), fitted through a Trainer in batches."""

import lightning as L
import numpy as np
import pytest
import torch

from econdl.data import KinkDataModule
from econdl.tasks import ChebyshevLS, PolynomialLS, ReLUBasisLS
from econdl.tasks.least_squares import total_degree_terms


def fit(model, dm, **trainer_kwargs):
    trainer = L.Trainer(
        max_epochs=5,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **trainer_kwargs,
    )
    trainer.fit(model, datamodule=dm)
    return trainer


def data(**kw):
    base = dict(x_size=400, val_size=50, test_size=201, batch_size=37, noise=0.05, split_seed=2)
    return KinkDataModule(**{**base, **kw})


def predict(model, x):
    with torch.no_grad():
        return model(x).double().numpy().ravel()


def test_polynomial_matches_numpy_polyfit():
    dm = data()
    model = PolynomialLS(degree=6)
    trainer = fit(model, dm)
    assert trainer.current_epoch == 1  # one pass is the whole fit
    x, y = (t.double().numpy().ravel() for t in dm.split("train"))
    oracle = np.polynomial.Polynomial.fit(x, y, 6)
    xs = dm.split("test")[0]
    assert np.allclose(predict(model, xs), oracle(xs.numpy().ravel()), atol=1e-5)
    assert np.allclose(
        model.coef.detach().numpy().ravel(), np.polynomial.polynomial.polyfit(x, y, 6), rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("ridge", [0.0, 0.5])
def test_ridge_solves_the_penalised_normal_equations_and_logs_the_datas_mse(ridge):
    """ridge adds sqrt(ridge) * I rows (intercept included): the coefficients solve
    (X'X + ridge I) b = X'y; train/loss is the mean squared error on the training data,
    without the penalty (as a network's train/loss leaves out its weight decay)."""
    dm = data()
    model = PolynomialLS(degree=4, ridge=ridge)
    trainer = fit(model, dm)
    x, y = (t.double().numpy().ravel() for t in dm.split("train"))
    design = np.vander(x, 5, increasing=True)
    oracle = np.linalg.solve(design.T @ design + ridge * np.eye(5), design.T @ y)
    coef = model.coef.detach().numpy().ravel()
    np.testing.assert_allclose(coef, oracle, rtol=1e-7, atol=1e-9)
    if ridge:
        plain = np.linalg.lstsq(design, y, rcond=None)[0]
        assert np.abs(coef - plain).max() > 1e-3  # the penalty changed the fit
    mse = float(np.mean((design @ coef - y) ** 2))
    assert float(trainer.callback_metrics["train/loss"]) == pytest.approx(mse, rel=1e-5)


def test_chebyshev_matches_numpy_chebyshev_fit_on_training_range():
    dm = data()
    model = ChebyshevLS(degree=8)
    fit(model, dm)
    x, y = (t.double().numpy().ravel() for t in dm.split("train"))
    oracle = np.polynomial.Chebyshev.fit(x, y, 8, domain=[x.min(), x.max()])
    assert np.allclose(model.coef.detach().numpy().ravel(), oracle.coef, atol=1e-8)
    xs = dm.split("test")[0]
    assert np.allclose(predict(model, xs), oracle(xs.numpy().ravel()), atol=1e-5)


def test_relu_basis_matches_lstsq_on_the_same_design():
    dm = data()
    model = ReLUBasisLS(knots=12)
    fit(model, dm)
    x, y = (t.double().numpy().ravel() for t in dm.split("train"))
    knots = x.min() + (x.max() - x.min()) * np.arange(12) / 12
    design = np.column_stack([np.ones_like(x), np.maximum(x[:, None] - knots[None, :], 0)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    assert np.allclose(model.coef.detach().numpy().ravel(), coef, atol=1e-6)


def test_multidimensional_polynomial_uses_total_degree_terms():
    assert len(total_degree_terms(3, 2)) == 10  # 1, 3 linear, 6 quadratic
    dm = data(dim=2)
    model = PolynomialLS(degree=3)
    fit(model, dm)
    x, y = (t.double().numpy() for t in dm.split("train"))
    design = np.column_stack([x[:, 0] ** a * x[:, 1] ** b for a, b in total_degree_terms(2, 3)])
    coef, *_ = np.linalg.lstsq(design, y.ravel(), rcond=None)
    assert np.allclose(model.coef.detach().numpy().ravel(), coef, atol=1e-6)


def test_too_few_points_for_the_degree_fails_naming_both():
    dm = KinkDataModule(x_size=30, val_size=5, test_size=5)
    with pytest.raises(
        ValueError, match=r"PolynomialLS\(degree=40\) has 41 coefficients and needs at least 41 training points, got 30"
    ):
        fit(PolynomialLS(degree=40), dm)


def test_a_ridge_fit_needs_no_more_points_than_coefficients():
    """The sqrt(ridge) * I rows give the penalised system full rank on any number of points."""
    dm = KinkDataModule(x_size=8, val_size=5, test_size=5)
    model = PolynomialLS(degree=10, ridge=0.1)
    fit(model, dm)
    x, y = (t.double().numpy().ravel() for t in dm.split("train"))
    design = np.vander(x, 11, increasing=True)
    oracle = np.linalg.solve(design.T @ design + 0.1 * np.eye(11), design.T @ y)
    np.testing.assert_allclose(model.coef.detach().numpy().ravel(), oracle, rtol=1e-6, atol=1e-8)


def test_degree_zero_chebyshev_fits_the_mean():
    dm = data()
    model = ChebyshevLS(degree=0)
    fit(model, dm)
    y = dm.split("train")[1].double().numpy()
    assert model.coef.shape == (1, 1)
    assert np.allclose(predict(model, dm.split("test")[0]), y.mean(), atol=1e-9)


def test_empty_domains_and_no_knots_are_refused_naming_the_value():
    with pytest.raises(ValueError, match=r"domain=\[1.0, 1.0\] must be \[low, high\] with low < high"):
        ChebyshevLS(domain=(1.0, 1.0))
    with pytest.raises(ValueError, match="knots=0 must be a positive integer"):
        ReLUBasisLS(knots=0)


def test_train_loss_of_several_targets_is_the_mean_over_every_target():
    """Two target columns: train/loss is the mean squared error over rows and columns."""

    class TwoTargets(type(data())):
        def build(self):
            return {k: (x, torch.cat([y, 3 * y.flip(0)], dim=1)) for k, (x, y) in super().build().items()}

    dm = TwoTargets(x_size=400, val_size=50, test_size=201, batch_size=37, noise=0.05, split_seed=2)
    model = PolynomialLS(degree=3)
    trainer = fit(model, dm)
    x, y = (t.double().numpy() for t in dm.split("train"))
    design = np.vander(x.ravel(), 4, increasing=True)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    assert np.allclose(model.coef.detach().numpy(), coef, atol=1e-6)
    mse = float(np.mean((design @ coef - y) ** 2))
    assert float(trainer.callback_metrics["train/loss"]) == pytest.approx(mse, rel=1e-5)


def test_collinear_basis_fails_with_advice():
    dm = KinkDataModule(x_size=40, val_size=5, test_size=5, sampling="grid")
    dm.setup()
    x, y = dm.splits["train"]
    dm.splits["train"] = (torch.full_like(x, 0.3), y)  # every input the same
    with pytest.raises(ValueError, match="linearly dependent"):
        fit(ReLUBasisLS(knots=3, domain=(0.0, 1.0)), dm)


def test_unfitted_model_says_how_to_fit():
    with pytest.raises(RuntimeError, match="has not been fitted"):
        PolynomialLS(degree=2)(torch.zeros(3, 1))


def test_a_fitted_model_predicts_an_empty_batch_as_no_rows():
    """A data-parallel shard ends with an empty batch when the rows do not split evenly."""
    dm = data()
    model = PolynomialLS(degree=3)
    fit(model, dm)
    assert model(torch.zeros(0, 1)).shape == (0, 1)


def test_a_data_module_whose_splits_carry_more_than_inputs_and_targets_is_fitted_on_those_two():
    """Splits may hold further tensors after (inputs, targets), e.g. per-row weights: the fit
    (and the input range the knots are spread over) is that of the inputs and targets."""

    class Weighted(type(data())):
        def build(self):
            return {k: (x, y, torch.full_like(y, 9.0)) for k, (x, y) in super().build().items()}

    plain, weighted = ReLUBasisLS(knots=5), ReLUBasisLS(knots=5)
    fit(plain, data())
    fit(weighted, Weighted(x_size=400, val_size=50, test_size=201, batch_size=37, noise=0.05, split_seed=2))
    xs = data().split("test")[0]
    assert np.allclose(predict(weighted, xs), predict(plain, xs), atol=1e-9)


def test_checkpoint_round_trip_rebuilds_the_fit(tmp_path):
    dm = data()
    model = ChebyshevLS(degree=5)
    trainer = fit(model, dm, default_root_dir=tmp_path)
    path = tmp_path / "cheb.ckpt"
    trainer.save_checkpoint(path)
    loaded = ChebyshevLS.load_from_checkpoint(path)
    xs = dm.split("test")[0]
    assert loaded.degree == 5
    assert np.array_equal(predict(loaded, xs), predict(model, xs))


ONE_PASS_BREAKERS = [
    ["--trainer.val_check_interval=0.25"],  # validated (and solved) on each quarter of the rows
    ["--trainer.max_steps=3"],  # stopped after 3 of the pass's batches
    ["--trainer.limit_train_batches=0.5", "--trainer.check_val_every_n_epoch=3"],  # half the rows; never validated
    ["--trainer.gradient_clip_val=0.5", "--trainer.accumulate_grad_batches=3"],  # refused by Lightning
]


@pytest.mark.parametrize("config", ["kink/polynomial.yaml", "gdp/ar.yaml", "gdp/mean.yaml"])
def test_trainer_options_that_would_cut_the_one_pass_leave_a_closed_form_fit_as_it_is(config, capsys):
    from econdl.cli import cli_main
    from helpers import CONFIGS

    base = ["fit", "--config", str(CONFIGS / config), "--trainer.enable_progress_bar=false", "--data.batch_size=16"]
    default = cli_main(base, verbose_test=False)
    expected = {k: v.clone() for k, v in default.model.state_dict().items()}
    assert default.trainer.checkpoint_callback.best_model_path  # validated once, at the end of the pass
    capsys.readouterr()
    for options in ONE_PASS_BREAKERS:
        cli = cli_main([*base, *options], verbose_test=False)
        got = cli.model.state_dict()
        assert got.keys() == expected.keys() and all(torch.equal(got[k], expected[k]) for k in expected), options
        assert cli.trainer.checkpoint_callback.best_model_path, options  # and its best checkpoint exists
        printed = capsys.readouterr().out
        assert "is solved from all training rows in one pass: " in printed, options
        assert all(option.split("=")[0] in printed for option in options), printed


def test_a_model_taking_its_own_steps_fits_under_clipping_and_accumulation_options(capsys, tmp_path):
    """LassoLogit takes proximal steps of its own: the options are left out of its fit, with a line
    saying so, rather than Lightning refusing the fit (and with it a whole comparison)."""
    from econdl.cli import cli_main
    from helpers import CONFIGS, make_fixture

    data = make_fixture("mnist", tmp_path / "digits")
    args = ["fit", "--config", str(CONFIGS / "mnist/lasso.yaml"), f"--data.data_dir={data}"]
    args += ["--data.val_size=0.25", "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false"]
    cli = cli_main(
        [*args, "--trainer.gradient_clip_val=0.5", "--trainer.accumulate_grad_batches=3"], verbose_test=False
    )
    assert cli.trainer.gradient_clip_val is None and cli.trainer.accumulate_grad_batches == 1
    printed = capsys.readouterr().out
    assert "LassoLogit takes its own optimizer steps: --trainer.gradient_clip_val 0.5" in printed
