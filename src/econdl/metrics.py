"""The one naming rule between logged metrics and table columns.

Models log ``<stage>/<name>`` (``train/loss``, ``val/loss``, ``test/rmse``,
``test/acc_class_<label>``): the keys that metrics.csv, TensorBoard, EarlyStopping and
ModelCheckpoint see.  Tables (``econdl compare``, reports, pandas) name the same quantity
``<stage>_<name>`` (``test_rmse``), a valid column and attribute name.  ``column_name`` and
``logged_name`` map one way and back; every place that converts uses them.
"""

from __future__ import annotations

import re

STAGES = ("train", "val", "test", "predict")


def column_name(logged: str) -> str:
    """``test/rmse`` -> ``test_rmse``; a name without a stage (``sparsity``, ``lr-AdamW``) is unchanged."""
    stage, sep, name = logged.partition("/")
    return f"{stage}_{name}" if sep and stage in STAGES and name else logged


def metric_label(name: str) -> str:
    """A class name made safe for a metric key (``T-shirt/top`` -> ``T-shirt_top``), as in
    ``test/acc_class_<label>``; models and callbacks both name per-class metrics with it."""
    return re.sub(r"[^0-9A-Za-z_.-]+", "_", str(name)).strip("_") or "class"


def logged_name(column: str) -> str:
    """``test_rmse`` -> ``test/rmse``, the inverse of ``column_name``."""
    stage, sep, name = column.partition("_")
    return f"{stage}/{name}" if sep and stage in STAGES and name else column
