"""Lightning's early stopping, for fits whose first epoch may end before any validation."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping as LightningEarlyStopping


class EarlyStopping(LightningEarlyStopping):
    """Lightning's ``EarlyStopping``, except that an epoch that ends before this process has
    validated once is not checked: ``--trainer.max_steps`` inside the first epoch (or inside the
    first epoch after a resume) ends it before its validation, and Lightning's callback then
    stopped the fit with "Early stopping conditioned on metric val/loss which is not available"
    although nothing was wrong.  Once a validation has run, a monitored metric that is missing
    is an error, as in Lightning (a misspelt ``monitor``).  The class keeps Lightning's name, so
    checkpoints hold its state under the same key."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._validated = False

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._validated = True
        super().on_validation_end(trainer, pl_module)

    def _run_early_stopping_check(self, trainer: L.Trainer) -> None:
        if not self._validated and self.monitor not in trainer.callback_metrics:
            return  # nothing validated yet: nothing to check
        super()._run_early_stopping_check(trainer)
