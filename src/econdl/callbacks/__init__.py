"""Callbacks shared by every task."""

from econdl.callbacks.class_table import ClassAccuracyTable
from econdl.callbacks.guards import FiniteLossGuard, NonFiniteLossError
from econdl.callbacks.predictions import CSVPredictionWriter

__all__ = ["ClassAccuracyTable", "CSVPredictionWriter", "FiniteLossGuard", "NonFiniteLossError"]
