"""LightningModules: generic neural models and the classical baselines beside them."""

from econdl.tasks.least_squares import ChebyshevLS, LeastSquares, PolynomialLS, ReLUBasisLS
from econdl.tasks.regression import RegressionModel
from econdl.tasks.regressor import Regressor

__all__ = ["ChebyshevLS", "LeastSquares", "PolynomialLS", "ReLUBasisLS", "RegressionModel", "Regressor"]
