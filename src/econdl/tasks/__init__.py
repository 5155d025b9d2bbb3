"""LightningModules: generic neural models and the classical baselines beside them."""

from econdl.tasks.ar import LinearAR, RandomWalk, TrainingMean
from econdl.tasks.least_squares import ChebyshevLS, LeastSquares, PolynomialLS, ReLUBasisLS
from econdl.tasks.regression import RegressionModel
from econdl.tasks.regressor import Regressor

__all__ = ["LinearAR", "RandomWalk", "TrainingMean", "ChebyshevLS", "LeastSquares", "PolynomialLS", "ReLUBasisLS", "RegressionModel", "Regressor"]
