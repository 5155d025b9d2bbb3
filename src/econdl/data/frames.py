"""Predictions as a table: the default layout of ``predictions.csv``.

Lives with the data, not with the callback that writes the file: a DataModule builds its
own ``prediction_frame`` on top of it, and callbacks import data code, never the reverse.
"""

from __future__ import annotations

import pandas as pd
import torch


def default_frame(batches: list[torch.Tensor]) -> pd.DataFrame:
    """One column per output (``prediction`` when there is one)."""
    values = torch.cat([b.detach().float().cpu().reshape(len(b), -1) for b in batches]).numpy()
    cols = ["prediction"] if values.shape[1] == 1 else [f"prediction_{k}" for k in range(values.shape[1])]
    return pd.DataFrame(values, columns=cols)
