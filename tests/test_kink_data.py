"""The kink DataModule: the lecture's function, shapes, splits, reproducibility."""

import numpy as np
import pytest
import torch

from econdl.data import KinkDataModule
from econdl.data.kink import kinked_function


def test_function_matches_the_lecture_formula():
    x = torch.tensor([[0.0], [0.25], [0.5], [0.5001], [1.0]])
    alpha, beta = 0.7, 1.3
    expected = [alpha * beta * v**alpha * (2 if v > 0.5 else 1) for v in x.flatten().tolist()]
    assert torch.allclose(kinked_function(x, alpha, beta).flatten(), torch.tensor(expected))


def test_multidimensional_variant_breaks_on_coordinate_zero():
    x = torch.tensor([[0.4, 0.9, 0.9], [0.6, 0.1, 0.1]])
    y = kinked_function(x, 1.0, 1.0).flatten()
    assert torch.allclose(y, torch.tensor([(0.4 + 0.9 + 0.9) / 3, 2 * (0.6 + 0.1 + 0.1) / 3]))


def test_splits_shapes_grid_and_no_overlap(capsys):
    dm = KinkDataModule(x_size=300, val_size=50, test_size=101, dim=1, split_seed=1)
    dm.setup()
    assert "kink: 300 train / 50 val / 101 test points\n" in capsys.readouterr().out  # the counts used, said once
    (xt, yt), (xv, _), (xs, _) = dm.split("train"), dm.split("val"), dm.split("test")
    assert xt.shape == (300, 1) and yt.shape == (300, 1)
    assert xv.shape == (50, 1) and xs.shape == (101, 1)
    assert torch.allclose(xs.flatten(), torch.linspace(0, 1, 101))  # dense grid for plots
    assert not set(xt.flatten().tolist()) & set(xv.flatten().tolist())


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = (KinkDataModule(x_size=64, val_size=8, test_size=8, split_seed=s) for s in (5, 5, 6))
    assert torch.equal(a.split("train")[0], b.split("train")[0])
    assert not torch.equal(a.split("train")[0], c.split("train")[0])


def test_noise_only_on_train_and_val():
    dm = KinkDataModule(x_size=2000, val_size=500, test_size=51, noise=0.1)
    x, y = dm.split("train")
    resid = y - kinked_function(x, dm.alpha, dm.beta)
    assert 0.08 < float(resid.std()) < 0.12
    xs, ys = dm.split("test")
    assert torch.equal(ys, kinked_function(xs, dm.alpha, dm.beta))


def test_grid_sampling_and_dim():
    dm = KinkDataModule(x_size=11, val_size=4, test_size=5, sampling="grid")
    assert np.allclose(dm.split("train")[0].flatten().numpy(), np.linspace(0, 1, 11))
    dm3 = KinkDataModule(x_size=40, val_size=4, test_size=5, dim=3)
    assert dm3.split("train")[0].shape == (40, 3) and dm3.input_dim == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"x_size": 1}, "x_size=1"),
        ({"alpha": 0.0}, "alpha=0.0"),
        ({"noise": -1.0}, "noise=-1.0"),
        ({"sampling": "sobol"}, "sampling='sobol'"),
        ({"sampling": "grid", "dim": 2}, "sampling='grid' is for dim=1"),
        ({"dim": 0}, "dim=0"),
        # a negative band around the break holds no point: the table's column vanished without a word
        ({"break_window": -0.1}, "break_window=-0.1 must be zero or positive"),
    ],
)
def test_bad_settings_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        KinkDataModule(**kwargs)


def test_nan_inputs_are_rejected_naming_rows():
    dm = KinkDataModule(x_size=20, val_size=4, test_size=5)
    splits = dm.build()
    splits["train"][1][[3, 7]] = float("nan")
    dm.build = lambda: splits
    with pytest.raises(ValueError, match=r"train targets hold NaN or infinite values in rows 3, 7"):
        dm.setup()


@pytest.mark.parametrize(
    ("bad", "shown"), [(10, "rows 0, 1, 2, 3, 4, 5, 6, 7, 8, 9; "), (11, "8, 9, ... (11 rows in all); ")]
)
def test_nan_rows_are_listed_up_to_ten_then_counted(bad, shown):
    dm = KinkDataModule(x_size=20, val_size=4, test_size=5)
    splits = dm.build()
    splits["train"][0][:bad] = float("nan")
    dm.build = lambda: splits
    with pytest.raises(ValueError) as refused:
        dm.setup()
    assert shown in str(refused.value) and ("in all" in str(refused.value)) == (bad > 10)


def test_score_reports_error_near_the_break():
    dm = KinkDataModule(x_size=20, val_size=4, test_size=101)
    x, y = dm.split("test")
    pred = y.clone()
    pred[(x[:, 0] - 0.5).abs() <= 0.05] += 0.1
    s = dm.score(pred)
    assert s["mse_near_break"] == pytest.approx(0.01, rel=1e-5)
    assert s["mse_away_from_break"] == 0.0
    assert s["test_max_abs_err"] == pytest.approx(0.1, rel=1e-5)


def test_overfit_batches_trains_on_the_same_batches_every_epoch():
    import lightning as L

    from econdl.data import KinkDataModule

    dm = KinkDataModule(x_size=256, val_size=64, test_size=65, batch_size=32)
    dm.trainer = L.Trainer(overfit_batches=2, logger=False, enable_progress_bar=False)
    dm.setup("fit")
    loader = dm.train_dataloader()
    epochs = []
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        epochs.append([batch[0].clone() for batch in loader][:2])
    assert all(torch.equal(a, b) for a, b in zip(*epochs, strict=True))
    dm.trainer = L.Trainer(logger=False, enable_progress_bar=False)
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(0)
    first = next(iter(loader))[0].clone()
    loader.sampler.set_epoch(1)
    assert not torch.equal(first, next(iter(loader))[0])  # otherwise shuffled each epoch


def test_the_counts_say_when_test_points_lie_beyond_the_training_points():
    """20 random training points spanned 0.02 to 0.90: a degree-10 least-squares fit scored
    test RMSE 5.4 (0.04 on 100 points), all of it beyond the last training point, unannounced."""
    few = KinkDataModule(x_size=20)
    few.setup()
    x = few.split("train")[0]
    note = few.counts_note()
    assert note is not None and note.startswith("20 train / 2,000 val / 2,001 test points; ")
    assert f"cover x from {float(x.min()):.3g} to {float(x.max()):.3g} and the test points 0 to 1" in note
    wide = KinkDataModule(x_size=20, dim=2)  # no grid sampling in 2 dimensions: not suggested there
    wide.setup()
    assert "extrapolation (a larger x_size covers more)" in str(wide.counts_note())
    for covered in (KinkDataModule(x_size=20, sampling="grid"), KinkDataModule()):
        covered.setup()
        assert "extrapolation" not in str(covered.counts_note())


def test_test_errors_are_absolute_errors_in_the_datas_units():
    """test/mae and test/max_abs_err (logged by ``econdl test``) and the comparison table's
    test_mae and test_max_abs_err (``score``) are means and maxima of |prediction - target|.
    A constant prediction at 30% of the targets' range has its largest error below the
    targets (negative), so a signed error would give other numbers."""
    import lightning as L
    from torch import nn

    from econdl.tasks import Regressor

    dm = KinkDataModule(x_size=200, val_size=40, test_size=101)
    y_stored = dm.split("test")[1]
    level = float(y_stored.min() + 0.3 * (y_stored.max() - y_stored.min()))
    net = nn.Linear(1, 1)
    with torch.no_grad():
        net.weight.zero_()
        net.bias.fill_(level)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    logged = trainer.test(Regressor(net), dm, verbose=False)[0]
    pred = dm.unscale(torch.full_like(y_stored, level))
    err = (pred - dm.test_targets()).double()
    assert err.max() < 0.5 * err.abs().max() and err.mean() < -0.5 * err.abs().mean()  # the case above
    hand = {
        "mse": float((err**2).mean()),
        "rmse": float((err**2).mean().sqrt()),
        "mae": float(err.abs().mean()),
        "max_abs_err": float(err.abs().max()),
    }
    for name in ("rmse", "mae", "max_abs_err"):  # (test/loss is the MSE on the stored scale)
        assert logged[f"test/{name}"] == pytest.approx(hand[name], rel=1e-5), name
    scored = dm.score(pred)
    for name, value in hand.items():
        assert scored[f"test_{name}"] == pytest.approx(value, rel=1e-9), name


def test_validation_targets_carry_the_noise_too():
    dm = KinkDataModule(x_size=100, val_size=4000, test_size=5, noise=0.1)
    x, y = dm.split("val")
    resid = (y - kinked_function(x, dm.alpha, dm.beta)).numpy()
    assert 0.09 < float(np.std(resid)) < 0.11


def test_score_counts_points_exactly_at_the_window_edge_as_near_the_break():
    """Test grid 0, 0.25, ..., 1 with break_window 0.25: 0.25, 0.5 and 0.75 are near the break."""
    dm = KinkDataModule(x_size=20, val_size=4, test_size=5, break_window=0.25)
    x, y = dm.split("test")
    errors = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    s = dm.score(y + torch.tensor(errors, dtype=y.dtype).reshape(y.shape))
    assert np.allclose(x.flatten().numpy(), [0, 0.25, 0.5, 0.75, 1])
    assert s["mse_near_break"] == pytest.approx(np.mean(errors[1:4] ** 2), rel=1e-6)
    assert s["mse_away_from_break"] == pytest.approx(np.mean(errors[[0, 4]] ** 2), rel=1e-6)


def _with_training_inputs(dm, change):
    splits = dm.build()
    x = change(splits["train"][0].clone())
    splits["train"] = (x, kinked_function(x, dm.alpha, dm.beta))
    dm.build = lambda: splits
    dm.setup()
    return dm.counts_note()


def test_the_counts_say_when_the_low_end_is_uncovered():
    dm = KinkDataModule(x_size=11, val_size=4, test_size=11, sampling="grid")
    note = _with_training_inputs(dm, lambda x: 0.1 + 0.9 * x)  # 0.1 to 1: the high end is covered
    assert "cover x from 0.1 to 1 and the test points 0 to 1" in str(note)


def test_the_counts_name_the_coordinate_left_uncovered():
    def squeeze_coordinate_one(x):
        x[:, 1] = 0.3 + 0.4 * x[:, 1]
        return x

    dm = KinkDataModule(x_size=4000, val_size=4, test_size=4000, dim=2)
    note = str(_with_training_inputs(dm, squeeze_coordinate_one))
    assert "cover x_1 from 0.3" in note and "extrapolation" in note
