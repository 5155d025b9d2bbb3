"""Classical approximations fitted in closed form: least squares on a fixed basis.

Each model is a LightningModule on the same DataModule as the neural networks.
During one pass over the training batches it builds each batch's basis (design)
matrix X in float64 and keeps the rows ``[X | y]``.  At the end of the pass the rows
of all data-parallel processes are gathered back into the data's own row order, and
the coefficients come from one QR factorisation of the whole matrix
(``R11 b = R12`` by back-substitution): ordinary least squares computed the
numerically stable way (no X'X, whose condition number is the square of X's).
Because the factorised matrix is the same whatever the batch size or the number of
processes, so are the coefficients, bit for bit.  The cost is holding the n x p
design in memory for the pass (80 MB for a million rows and ten columns).

The coefficients are held as an ``nn.Parameter`` and filled after solving, so
DistributedDataParallel accepts the module; the optimizer never updates anything.
"""

from __future__ import annotations

import itertools
from math import comb
from collections.abc import Mapping
from typing import Any, cast

import torch
from lightning.pytorch.core.optimizer import LightningOptimizer
from torch import Tensor, nn

from econdl.tasks.regression import RegressionModel
from econdl.errors import ConfigError, DataError, NotFitted
from econdl.tasks.rows import as_rows, training_rows


def total_degree_terms(dim: int, degree: int) -> list[tuple[int, ...]]:
    """Exponent tuples of every product of univariate terms with total degree <= degree."""
    terms = []
    for total in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(dim), total):
            exps = [0] * dim
            for j in combo:
                exps[j] += 1
            terms.append(tuple(exps))
    return terms


class LeastSquares(RegressionModel):
    """Base class: subclasses define ``basis(x)`` (float64, shape (n, p)) and ``n_features``.

    Args:
        ridge: optional L2 penalty on the coefficients (0 = ordinary least squares);
            added as sqrt(ridge) * I rows to the factorisation, intercept included.
            ``train/loss`` is the training data's mean squared error, without the penalty
            (a closed form has no iterations whose objective one would watch level off).
    """

    #: buffers fitted from the training data; resized from a checkpoint on load
    data_buffers: tuple[str, ...] = ()
    #: asks the DataModule for every training row exactly once (no padding or dropping)
    exact_pass = True

    def __init__(self, ridge: float = 0.0) -> None:
        super().__init__()
        if ridge < 0:
            raise ConfigError(f"ridge={ridge} must be zero or positive")
        self.ridge = ridge
        self.automatic_optimization = False
        self.coef = nn.Parameter(torch.zeros(0, 1, dtype=torch.float64))
        self._rows: list[Tensor] = []
        self._train_mse: Tensor | None = None

    # --- to implement -------------------------------------------------------------
    def n_features(self, input_dim: int) -> int:
        raise NotImplementedError

    def basis(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def fit_domain(self, x_train: Tensor) -> None:
        """Fit data-dependent buffers (e.g. the input range) from the training inputs."""

    def describe(self) -> str:
        return type(self).__name__

    # --- Lightning hooks -----------------------------------------------------------
    def setup(self, stage: str) -> None:
        super().setup(stage)
        # Lightning attaches Trainer.datamodule at fit time without declaring the attribute
        dm = getattr(self._trainer, "datamodule", None)
        if stage != "fit" or dm is None:
            return
        x, y = training_rows(dm, self.describe())
        x = x.reshape(len(x), -1)
        self.fit_domain(x)
        p, n = self.n_features(x.shape[1]), len(x)
        if n < p and self.ridge == 0:
            raise ConfigError(
                f"{self.describe()} has {p} coefficients and needs at least {p} training "
                f"points, got {n}: lower the degree/knots or add data (data.x_size)"
            )
        outputs = y.reshape(len(y), -1).shape[1]
        self.coef = nn.Parameter(torch.zeros(p, outputs, dtype=torch.float64))

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        """Size the coefficients and fitted buffers like the saved ones first: an unfitted
        model (a new process, a spawned worker) holds empty ones."""
        if "coef" in state_dict and self.coef.shape != state_dict["coef"].shape:
            self.coef = nn.Parameter(torch.empty_like(state_dict["coef"], device=self.coef.device))
        for name in self.data_buffers:
            if name in state_dict:
                self.register_buffer(name, torch.empty_like(state_dict[name], device=self.coef.device))
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # Never updates anything (no gradients exist); its step() only counts batches
        # in trainer.global_step, which checkpointing and logging key on.
        return torch.optim.SGD([self.coef], lr=0.0)

    def _design(self, x: Tensor) -> Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.basis(as_rows(x).double())

    def forward(self, x: Tensor) -> Tensor:
        if self.coef.numel() == 0:
            raise NotFitted(
                f"{self.describe()} has not been fitted: run `econdl fit` first, or pass "
                "--ckpt_path with a checkpoint of a fitted model"
            )
        return (self._design(x) @ self.coef).to(x.dtype if x.is_floating_point() else torch.float32)

    def on_train_epoch_start(self) -> None:
        self._rows = []

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        x, y = batch[0], batch[1]
        with torch.no_grad():
            self._rows.append(torch.cat([self._design(x), as_rows(y).double()], dim=1))
        self._optimizer().step()

    def _optimizer(self) -> LightningOptimizer:
        """The single optimizer of configure_optimizers (Lightning's type also allows a list)."""
        opt = self.optimizers()
        if isinstance(opt, list):
            raise TypeError(f"{self.describe()} expects one optimizer, got {len(opt)}")
        return opt

    def on_validation_epoch_start(self) -> None:
        self._solve()

    def on_train_epoch_end(self) -> None:
        self._solve()
        if self._train_mse is not None:
            self.log("train/loss", self._train_mse, on_epoch=True)
        self.trainer.should_stop = True  # one pass over the data is the whole fit

    # --- the solve -----------------------------------------------------------------
    def _gather_rows(self) -> Tensor:
        """All training rows ``[X | y]`` in the data's order, whatever the number of processes.

        The exact-pass loader gives process r the rows r, r + w, r + 2w, ... (w processes),
        so gathering the shards and interleaving them restores the original order."""
        rows = torch.cat(self._rows)
        world = self.trainer.world_size
        if world == 1:
            return rows
        count = torch.tensor(len(rows), device=rows.device)
        # all_gather returns the input's type for a tensor; Lightning's return type is any collection
        counts = cast(Tensor, self.all_gather(count)).reshape(-1)
        longest = int(counts.max())
        padded = torch.cat([rows, rows.new_zeros(longest - len(rows), rows.shape[1])])
        shards = cast(Tensor, self.all_gather(padded)).reshape(world, longest, rows.shape[1])
        return shards.transpose(0, 1).reshape(world * longest, -1)[: int(counts.sum())]

    def _solve(self) -> None:
        if not self._rows:  # nothing accumulated (sanity check, or solved already)
            return
        rows = data = self._gather_rows()
        self._rows = []
        p = self.coef.shape[0]
        if self.ridge:
            penalty = rows.new_zeros(p, rows.shape[1])
            penalty[:, :p] = self.ridge**0.5 * torch.eye(p, dtype=rows.dtype, device=rows.device)
            rows = torch.cat([rows, penalty])
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # same arithmetic in every process layout
        try:
            r = torch.linalg.qr(rows, mode="r").R
        finally:
            torch.set_num_threads(threads)
        r11, r12 = r[:p, :p], r[:p, p:]
        diag = r11.diagonal().abs()
        if diag.min() <= 1e-12 * diag.max():
            raise ConfigError(
                f"{self.describe()}: the basis columns are linearly dependent on these "
                f"training data (rank < {p}); lower the degree/knots, add data or set ridge > 0"
            )
        coef = torch.linalg.solve_triangular(r11, r12, upper=True)
        self.coef.data.copy_(coef)
        if self.ridge:  # the factorisation's residual holds the penalty too: train/loss is the data's MSE
            rss = ((data[:, :p] @ coef - data[:, p:]) ** 2).sum()
        else:
            rss = (r[p:, p:] ** 2).sum() if r.shape[0] > p else r.new_zeros(())
        self._train_mse = (rss / (len(data) * coef.shape[1])).float()


class PolynomialLS(LeastSquares):
    """Polynomial least squares (``np.polyfit`` for one input): all monomials of total degree
    <= ``degree`` in the raw inputs, intercept included."""

    def __init__(self, degree: int = 10, ridge: float = 0.0) -> None:
        super().__init__(ridge)
        if degree < 0:
            raise ConfigError(f"degree={degree} must be zero or positive")
        self.save_hyperparameters()
        self.degree = degree

    def describe(self) -> str:
        return f"PolynomialLS(degree={self.degree})"

    def n_features(self, input_dim: int) -> int:
        return comb(input_dim + self.degree, self.degree)

    def univariate(self, x: Tensor) -> Tensor:
        """(n, d, degree+1): x_j**k for k = 0..degree."""
        return x.unsqueeze(-1) ** torch.arange(self.degree + 1, device=x.device, dtype=x.dtype)

    def basis(self, x: Tensor) -> Tensor:
        uni = self.univariate(x)
        if x.shape[1] == 1:
            return uni[:, 0, :]
        terms = torch.tensor(total_degree_terms(x.shape[1], self.degree), device=x.device)
        # column c = prod_j uni[:, j, terms[c, j]]
        picked = torch.gather(uni, 2, terms.T.unsqueeze(0).expand(len(x), -1, -1))
        return picked.prod(dim=1)


class ChebyshevLS(PolynomialLS):
    """Chebyshev least squares: T_0..T_degree of inputs mapped to [-1, 1] with the training
    range (products of T_k of total degree <= degree for several inputs).

    Args:
        degree: highest Chebyshev degree.
        domain: ``[low, high]`` mapped to [-1, 1]; default: the training inputs' range.
        ridge: optional L2 penalty.
    """

    data_buffers = ("low", "high")

    def __init__(self, degree: int = 10, domain: tuple[float, float] | None = None, ridge: float = 0.0) -> None:
        super().__init__(degree, ridge)
        self.save_hyperparameters()
        if domain is not None and not domain[0] < domain[1]:
            raise ConfigError(f"domain={list(domain)} must be [low, high] with low < high")
        self.domain = domain
        self.register_buffer("low", torch.zeros(1, dtype=torch.float64))
        self.register_buffer("high", torch.ones(1, dtype=torch.float64))

    def describe(self) -> str:
        return f"ChebyshevLS(degree={self.degree})"

    def fit_domain(self, x_train: Tensor) -> None:
        if self.domain is not None:
            low = torch.full((x_train.shape[1],), float(self.domain[0]))
            high = torch.full((x_train.shape[1],), float(self.domain[1]))
        else:
            low, high = x_train.double().min(0).values, x_train.double().max(0).values
        if (high <= low).any():
            raise DataError("ChebyshevLS needs training inputs that vary; some input is constant")
        self.low, self.high = low.double(), high.double()

    def univariate(self, x: Tensor) -> Tensor:
        z = 2 * (x - self.low) / (self.high - self.low) - 1
        cols = [torch.ones_like(z), z]
        for _ in range(2, self.degree + 1):
            cols.append(2 * z * cols[-1] - cols[-2])
        return torch.stack(cols[: self.degree + 1], dim=-1)


class ReLUBasisLS(LeastSquares):
    """Least squares on shifted ReLUs: y = a_0 + sum_i a_i ReLU(x - b_i), with ``knots`` fixed,
    evenly spaced b_i from the low end of the training range (the lecture's sin(x) method).
    With several inputs the ReLUs of every input are added (an additive model).

    Args:
        knots: number of shifts b_i per input.
        domain: ``[low, high]`` over which the knots are spread; default: training range.
        ridge: optional L2 penalty.
    """

    data_buffers = ("knot_points",)

    def __init__(self, knots: int = 20, domain: tuple[float, float] | None = None, ridge: float = 0.0) -> None:
        super().__init__(ridge)
        if knots < 1:
            raise ConfigError(f"knots={knots} must be a positive integer")
        self.save_hyperparameters()
        self.knots, self.domain = knots, domain
        self.register_buffer("knot_points", torch.zeros(knots, 1, dtype=torch.float64))

    def describe(self) -> str:
        return f"ReLUBasisLS(knots={self.knots})"

    def n_features(self, input_dim: int) -> int:
        return 1 + self.knots * input_dim

    def fit_domain(self, x_train: Tensor) -> None:
        x = x_train.double()
        low, high = (
            (x.min(0).values, x.max(0).values)
            if self.domain is None
            else (
                torch.full((x.shape[1],), float(self.domain[0]), dtype=torch.float64),
                torch.full((x.shape[1],), float(self.domain[1]), dtype=torch.float64),
            )
        )
        steps = torch.arange(self.knots, dtype=torch.float64).unsqueeze(1) / self.knots
        self.knot_points = low + steps * (high - low)  # (knots, d), first knot at the low end

    def basis(self, x: Tensor) -> Tensor:
        relus = torch.relu(x.unsqueeze(1) - self.knot_points)  # (n, knots, d)
        return torch.cat([torch.ones(len(x), 1, dtype=x.dtype, device=x.device), as_rows(relus.transpose(1, 2))], dim=1)
