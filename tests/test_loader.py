"""The in-memory batch loader: coverage, order, sharding across ranks."""

import pytest
import torch

from econdl.data.loader import TensorBatches


def collect(loader):
    return torch.cat([b[0] for b in loader])


def test_unshuffled_batches_cover_rows_in_order():
    x = torch.arange(10).float()
    loader = TensorBatches((x, x * 2), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert torch.equal(collect(loader), x)
    assert all(torch.equal(b[1], b[0] * 2) for b in batches)  # rows stay paired


def test_shuffle_is_a_permutation_that_changes_with_epoch_and_repeats_with_seed():
    x = torch.arange(100)
    loader = TensorBatches((x,), batch_size=7, shuffle=True, seed=3)
    first = collect(loader)
    assert sorted(first.tolist()) == list(range(100))
    assert not torch.equal(first, x)
    loader.sampler.set_epoch(1)
    second = collect(loader)
    assert not torch.equal(first, second)
    again = TensorBatches((x,), batch_size=7, shuffle=True, seed=3)
    again.sampler.set_epoch(1)
    assert torch.equal(collect(again), second)


def test_drop_last():
    loader = TensorBatches((torch.arange(10),), batch_size=4, drop_last=True)
    assert len(loader) == 2 and sum(len(b[0]) for b in loader) == 8


def test_eval_shards_see_every_row_exactly_once():
    x = torch.arange(11)
    shards = [collect(TensorBatches((x,), batch_size=3, rank=r, world_size=2)) for r in range(2)]
    assert sorted(torch.cat(shards).tolist()) == list(range(11))


@pytest.mark.parametrize("world_size", [2, 3])
@pytest.mark.parametrize("batch_size", [1, 2, 4])
def test_every_row_is_seen_once_whatever_the_batch_size_and_every_rank_runs_as_many_batches(world_size, batch_size):
    """Rows that do not split evenly over the processes: a shorter shard ends with a smaller or
    empty batch, and the longest shard's last row is not dropped (with one row per batch too)."""
    x = torch.arange(11)
    loaders = [TensorBatches((x,), batch_size=batch_size, rank=r, world_size=world_size) for r in range(world_size)]
    assert len({len(loader) for loader in loaders}) == 1
    assert all(len(list(loader)) == len(loader) for loader in loaders)
    assert sorted(torch.cat([collect(loader) for loader in loaders]).tolist()) == list(range(11))
    # process r gets rows r, r + w, r + 2w, ...: a closed-form fit interleaves the shards back
    # into the data's order, so its coefficients do not depend on the number of processes
    assert all(torch.equal(collect(loader), x[r::world_size]) for r, loader in enumerate(loaders))


def test_training_shards_are_padded_to_equal_length():
    x = torch.arange(11)
    loaders = [TensorBatches((x,), batch_size=3, shuffle=True, rank=r, world_size=2) for r in range(2)]
    assert len(loaders[0]) == len(loaders[1])
    rows = torch.cat([collect(loader) for loader in loaders])
    assert len(rows) == 12 and set(rows.tolist()) == set(range(11))


def test_mismatched_tensors_are_rejected():
    import pytest

    with pytest.raises(ValueError, match="first dimension"):
        TensorBatches((torch.zeros(3), torch.zeros(4)), batch_size=2)
    with pytest.raises(ValueError, match="batch_size=0"):
        TensorBatches((torch.zeros(3),), batch_size=0)


def test_datamodule_keeps_data_on_an_accelerator_once_and_reuses_it():
    from types import SimpleNamespace

    from econdl.data import KinkDataModule

    fake_trainer = SimpleNamespace(
        strategy=SimpleNamespace(root_device=torch.device("meta")), global_rank=0, world_size=1, lightning_module=None
    )
    on = KinkDataModule(x_size=32, val_size=4, test_size=5, data_on_device=True)
    on.trainer = fake_trainer
    first, second = on.train_dataloader(), on.train_dataloader()
    assert first.tensors[0].device.type == "meta"
    assert first.tensors[0] is second.tensors[0]  # moved once, not per loader
    off = KinkDataModule(x_size=32, val_size=4, test_size=5, data_on_device=False)
    off.trainer = fake_trainer
    assert off.train_dataloader().tensors[0].device.type == "cpu"


def test_a_batchnorm_net_drops_a_last_batch_of_one_row_and_says_so(tmp_path, monkeypatch, capsys):
    """65 training rows in batches of 64 leave one row, on which BatchNorm cannot train: the
    fit drops it (saying so once) and runs 1 batch an epoch; a net without BatchNorm keeps it."""
    from econdl.cli import cli_main
    from helpers import CONFIGS

    monkeypatch.chdir(tmp_path)
    args = [
        "--config",
        str(CONFIGS / "kink/mlp.yaml"),
        "--data.x_size=65",
        "--data.val_size=16",
        "--data.test_size=16",
        "--data.batch_size=64",
        "--trainer.max_epochs=2",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]
    cli = cli_main(["fit", *args], run=True)
    assert cli.trainer.global_step == 2  # one batch of 64 a epoch
    assert capsys.readouterr().out.count("leave a last batch of 1 row") == 1
    plain = cli_main(["fit", *args, "--model.net.init_args.batchnorm=false"], run=True)
    assert plain.trainer.global_step == 4  # 64 + 1 rows a epoch
