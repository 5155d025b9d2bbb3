"""Callbacks shared by every task."""

from econdl.callbacks.guards import FiniteLossGuard, NonFiniteLossError
from econdl.callbacks.predictions import CSVPredictionWriter

__all__ = ["CSVPredictionWriter", "FiniteLossGuard", "NonFiniteLossError"]
