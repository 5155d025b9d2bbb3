"""The small-network configs (kink MLP, MNIST MLP) ask for torch's fused AdamW kernel: one
call per optimizer step instead of a Python loop over the parameters, which is a good part
of a step's time for networks this small.  It computes the default per-tensor update up to
float rounding.  (Over many steps Adam amplifies rounding where gradients are near zero, so
two long fits agree in their losses, not bit for bit: see the benchmarks' "match" column.)"""

from __future__ import annotations

import pytest
import torch

from econdl.cli import cli_main
from helpers import CONFIGS, quiet_trainer, tiny_data


def fitted(config: str, tmp_path, steps: int, *overrides: str) -> tuple[torch.optim.Optimizer, torch.Tensor]:
    path = CONFIGS / config
    cli = cli_main(["--config", str(path), *tiny_data(path.parent.name, path, tmp_path), *overrides], run=False)
    trainer = quiet_trainer(tmp_path, max_steps=steps, num_sanity_val_steps=0)
    trainer.fit(cli.model, datamodule=cli.datamodule)
    # the fitted function on a validation batch, BatchNorm normalising with the batch's own
    # statistics: a bias right before a BatchNorm has a gradient of pure rounding noise,
    # which Adam's normalisation turns into steps of up to lr in either direction; the batch
    # mean cancels it (the running mean, used in eval mode, has only partly caught up)
    cli.model.train()
    with torch.no_grad():
        x = next(iter(cli.datamodule.val_dataloader()))[0]
        return trainer.optimizers[0], cli.model(cli.datamodule.on_after_batch_transfer((x,), 0)[0]).flatten()


@pytest.mark.parametrize("config", ["kink/mlp.yaml", "mnist/mlp.yaml"])
def test_small_net_configs_take_the_default_kernels_steps_with_the_fused_one(config, tmp_path) -> None:
    fused_opt, fused = fitted(config, tmp_path / "fused", 3)
    default_opt, default = fitted(config, tmp_path / "default", 3, "--optimizer.fused=false")
    _, one_step = fitted(config, tmp_path / "one", 1, "--optimizer.fused=false")
    assert fused_opt.param_groups[0]["fused"] is True
    assert not default_opt.param_groups[0]["fused"]
    assert [int(s["step"]) for s in fused_opt.state.values()] == [3] * len(fused_opt.state)
    assert (default - one_step).abs().max() > 1e-3  # steps 2 and 3 moved the outputs, so the bound bites
    torch.testing.assert_close(fused, default, rtol=1e-5, atol=1e-6)


def test_mixed_precision_clipping_with_the_fused_kernel_is_refused_before_the_fit(tmp_path) -> None:
    """Lightning cannot clip a fused optimizer's gradients under mixed precision; econdl
    says so before training, naming the options and the fix."""
    from econdl.errors import ConfigError

    path = CONFIGS / "kink" / "mlp.yaml"
    args = ["fit", "--config", str(path), *tiny_data("kink", path, tmp_path), "--trainer.max_epochs=1"]
    clip = ["--trainer.precision=bf16-mixed", "--trainer.gradient_clip_val=1"]
    with pytest.raises(ConfigError, match=r"gradient_clip_val 1.* bf16-mixed.*--optimizer.fused false"):
        cli_main([*args, *clip])
    cli_main([*args, *clip, "--optimizer.fused=false"])  # the fix works
