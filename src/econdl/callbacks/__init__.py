"""Callbacks shared by every task."""

from econdl.callbacks.class_table import ClassAccuracyTable
from econdl.callbacks.guards import FiniteLossGuard, NonFiniteLossError
from econdl.callbacks.predictions import CSVPredictionWriter
from econdl.callbacks.resume import ResumeCheckpoint
from econdl.callbacks.stopping import EarlyStopping

__all__ = [
    "ClassAccuracyTable",
    "CSVPredictionWriter",
    "EarlyStopping",
    "FiniteLossGuard",
    "NonFiniteLossError",
    "ResumeCheckpoint",
]
