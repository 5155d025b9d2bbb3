"""Callbacks shared by every task."""

from econdl.callbacks.predictions import CSVPredictionWriter

__all__ = ["CSVPredictionWriter"]
