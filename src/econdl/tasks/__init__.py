"""LightningModules: generic neural models and the classical baselines beside them."""

from econdl.tasks.ar import LinearAR, RandomWalk, TrainingMean
from econdl.tasks.classifier import ClassificationModel, Classifier
from econdl.tasks.lasso import LassoLogit
from econdl.tasks.least_squares import ChebyshevLS, LeastSquares, PolynomialLS, ReLUBasisLS
from econdl.tasks.naive_bayes import NaiveBayes
from econdl.tasks.regression import RegressionModel
from econdl.tasks.regressor import Regressor

__all__ = [
    "ClassificationModel",
    "LinearAR",
    "RandomWalk",
    "TrainingMean",
    "Classifier",
    "LassoLogit",
    "NaiveBayes",
    "ChebyshevLS",
    "LeastSquares",
    "PolynomialLS",
    "ReLUBasisLS",
    "RegressionModel",
    "Regressor",
]
