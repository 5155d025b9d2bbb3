"""The kinked function of the lecture's approximation case study.

One dimension (the lecture's ``generate_kinked_data``), x in [0, 1]:

    f(x) = alpha * beta * x**alpha          for x <= 0.5
    f(x) = 2 * alpha * beta * x**alpha      for x >  0.5

so f jumps (its level doubles) at the break x = 0.5: the place where
polynomials show the Gibbs phenomenon.

``dim = d > 1`` gives the d-dimensional variant on [0, 1]^d: the power is
averaged over the coordinates and the break lies on coordinate 0 (index 0),
the hyperplane x_0 = 0.5:

    f(x) = c(x_0) * alpha * beta * mean_j(x_j**alpha),   c = 1 if x_0 <= 0.5 else 2

which reduces to the formula above for d = 1.
"""

from __future__ import annotations

import os

from pathlib import Path

import torch
from torch import Tensor

from econdl.data.base import RegressionDataModule, Splits
from econdl.errors import ConfigError

BREAK = 0.5


#: share of [0, 1] that the training points may leave uncovered at the ends before the counts say so
EDGE_GAP = 0.02


def kinked_function(x: Tensor, alpha: float, beta: float) -> Tensor:
    """f(x) for inputs of shape (n, d) on [0, 1]^d; returns shape (n, 1)."""
    level = alpha * beta * (x**alpha).mean(dim=1, keepdim=True)
    return torch.where(x[:, :1] > BREAK, 2.0 * level, level)


def _refuse_more_than_memory(sizes: dict[str, int], dim: int) -> None:
    """Points that could not fit in this machine's memory (inputs and targets in float64 as they
    are drawn): one line naming the largest size, rather than an overflow or out-of-memory error."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): nothing to compare with
        return
    need = sum(sizes.values()) * (dim + 1) * 8
    if need > memory:
        name = max(sizes, key=lambda k: sizes[k])
        raise ConfigError(
            f"{name}={sizes[name]:,} points (with {dim} input(s) each) need about {need / 2**30:,.0f} GiB of "
            f"memory and this machine has {memory / 2**30:,.0f} GiB; give a smaller --data.{name}"
            + (" or --data.dim" if dim > 1 else "")
        )


class KinkDataModule(RegressionDataModule):
    """Samples of the kinked function: random or grid training points, a dense test grid.

    Args:
        x_size: number of training points.
        alpha, beta: the function's power and scale.
        noise: standard deviation of Gaussian noise added to training and validation
            targets (test targets stay noiseless, so test errors measure approximation).
        dim: number of inputs d (the break is on coordinate 0).
        sampling: ``random`` (uniform draws) or ``grid`` (evenly spaced; d = 1 only)
            for the training points.
        val_size: number of uniform validation points.
        test_size: number of test points: an evenly spaced grid on [0, 1] for d = 1
            (plots read well), uniform draws otherwise.
        break_window: half-width of the band around the break used by the table's
            ``mse_near_break`` column.
        batch_size, eval_batch_size, split_seed, drop_last, data_on_device: see ``InMemoryDataModule``.
    """

    task = "kink"
    unit = "points"
    # validation points are drawn after the training points from one generator, so only a
    # smaller x_size makes some of the fit's training points validation ones; the test points
    # are a grid of the noise-free function (or draws after both), never training points
    split_keys = {"validate": ("x_size",), "test": ()}
    split_grows = ("x_size",)  # a larger x_size validates on points drawn after all the fit's

    def __init__(
        self,
        x_size: int = 10_000,
        alpha: float = 0.5,
        beta: float = 1.0,
        noise: float = 0.0,
        dim: int = 1,
        sampling: str = "random",
        val_size: int = 2_000,
        test_size: int = 2_001,
        break_window: float = 0.05,
        batch_size: int = 256,
        eval_batch_size: int | None = None,
        split_seed: int = 0,
        drop_last: bool = False,
        data_on_device: bool | None = None,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, split_seed, drop_last, data_on_device)
        self.save_hyperparameters()
        for name, value in (("x_size", x_size), ("val_size", val_size), ("test_size", test_size)):
            if value < 2:
                raise ConfigError(f"{name}={value} must be at least 2")
        if dim < 1:
            raise ConfigError(f"dim={dim} must be a positive integer")
        _refuse_more_than_memory({"x_size": x_size, "val_size": val_size, "test_size": test_size}, dim)
        if alpha <= 0:
            raise ConfigError(f"alpha={alpha} must be positive (x**alpha on [0, 1])")
        if noise < 0:
            raise ConfigError(f"noise={noise} is a standard deviation and cannot be negative")
        if sampling not in ("random", "grid"):
            raise ConfigError(f"sampling={sampling!r} must be 'random' or 'grid'")
        if not break_window >= 0:  # a negative band holds no point: its table column would vanish
            raise ConfigError(f"break_window={break_window} must be zero or positive, e.g. 0.05")
        if sampling == "grid" and dim > 1:
            raise ConfigError(f"sampling='grid' is for dim=1; with dim={dim} use sampling='random'")
        self.x_size, self.alpha, self.beta, self.noise = x_size, alpha, beta, noise
        self.dim, self.sampling = dim, sampling
        self.val_size, self.test_size, self.break_window = val_size, test_size, break_window

    def _grid(self, n: int) -> Tensor:
        return torch.linspace(0.0, 1.0, n, dtype=torch.float32).unsqueeze(1)

    def build(self) -> Splits:
        gen = self.generator()
        uniform = lambda n: torch.rand(n, self.dim, generator=gen)  # noqa: E731
        x_train = self._grid(self.x_size) if self.sampling == "grid" else uniform(self.x_size)
        x_val = uniform(self.val_size)
        x_test = self._grid(self.test_size) if self.dim == 1 else uniform(self.test_size)

        def noisy(x: Tensor) -> Tensor:
            y = kinked_function(x, self.alpha, self.beta)
            return y + self.noise * torch.randn(y.shape, generator=gen) if self.noise else y

        return {
            "train": (x_train, noisy(x_train)),
            "val": (x_val, noisy(x_val)),
            "test": (x_test, kinked_function(x_test, self.alpha, self.beta)),
        }

    def counts_note(self) -> str | None:
        """The counts, and where few training points leave the ends of [0, 1] uncovered (20
        random points spanned 0.02 to 0.90), that the test points there are extrapolation: a
        degree-10 polynomial scored RMSE 5.4 on them, 0.04 with 100 points."""
        counts = super().counts_note()
        if counts is None or self.splits is None:
            return counts
        x, test = self.splits["train"][0], self.splits["test"][0]
        low, high, t_low, t_high = x.amin(0), x.amax(0), test.amin(0), test.amax(0)
        uncovered = (low - t_low).clamp(min=0) + (t_high - high).clamp(min=0)
        if float(uncovered.max()) <= EDGE_GAP:
            return counts
        d = int(uncovered.argmax())
        name = "x" if self.dim == 1 else f"x_{d}"
        cover = (
            "a larger x_size, or sampling: grid, covers the ends" if self.dim == 1 else "a larger x_size covers more"
        )
        return (
            f"{counts}; the training points cover {name} from {float(low[d]):.3g} to {float(high[d]):.3g} and the "
            f"test points {float(t_low[d]):.3g} to {float(t_high[d]):.3g}: beyond the training points the test "
            f"scores measure extrapolation ({cover})"
        )

    def score(self, pred: Tensor) -> dict[str, float]:
        """Adds ``mse_near_break``: test MSE for |x_0 - 0.5| <= break_window."""
        scores = super().score(pred)
        x, y = self.split("test")[:2]
        near = (x[:, 0] - BREAK).abs() <= self.break_window
        err = pred.reshape(y.shape).double() - y.double()
        scores["mse_near_break"] = float((err[near] ** 2).mean()) if near.any() else float("nan")
        scores["mse_away_from_break"] = float((err[~near] ** 2).mean()) if (~near).any() else float("nan")
        return scores

    def plot_predictions(self, predictions: dict[str, Tensor], path: Path) -> Path:
        """True function and every fit (top), and each fit's error (bottom), against x_0."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        x, y = self.split("test")[:2]
        order = torch.argsort(x[:, 0])
        x0, y0 = x[order, 0].numpy(), y[order, 0].numpy()
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
        top.plot(x0, y0, color="black", lw=2.5, label="true f(x)")
        styles = ["-", "--", "-.", ":"]  # fits that coincide (polynomial, Chebyshev) stay visible
        for i, (name, pred) in enumerate(predictions.items()):
            p = pred.reshape(-1)[order].numpy()
            top.plot(x0, p, lw=1.4, ls=styles[i % 4], label=name)
            bottom.plot(x0, p - y0, lw=1.1, ls=styles[i % 4], label=name)
        for ax in (top, bottom):
            ax.axvline(BREAK, color="grey", ls=":", lw=1)
        top.set_ylabel("f(x)")
        top.set_title(f"Kinked function (alpha={self.alpha}, beta={self.beta}, d={self.dim}) and fits")
        top.legend(fontsize=8)
        bottom.axhline(0, color="black", lw=0.8)
        bottom.set_xlabel("x" if self.dim == 1 else "x_0")
        bottom.set_ylabel("fit - truth")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path
