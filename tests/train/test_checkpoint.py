import pytest
import torch

from convscope.train import CheckpointError, Trainer, load_checkpoint, restore, save_checkpoint



def test_round_trip_restores_weights_optimizer_counters_and_history(make_trainer, tiny_dataset, tmp_path):
    trainer = make_trainer(momentum=0.8)
    for _ in range(3):
        trainer.step()
    trainer.evaluate()
    path = save_checkpoint(trainer, tmp_path / "run.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]  # no temporary file left

    ckpt = load_checkpoint(path)
    assert ckpt.step == 3 and ckpt.images_seen == 96
    assert ckpt.config == trainer.config and ckpt.classes == trainer.classes
    assert ckpt.history == trainer.history

    fresh = Trainer(ckpt.spec, tiny_dataset, ckpt.config, device="cpu")
    restore(fresh, ckpt)
    assert (fresh.step_count, fresh.images_seen, fresh.train_seconds) == (3, 96, trainer.train_seconds)
    assert fresh.history == trainer.history and len(fresh.history["test"]) == 1
    x = trainer.test_images[:8]
    assert torch.equal(fresh.predict(x), trainer.predict(x))
    # the optimiser's momentum buffers came back too: the next step is identical
    assert fresh.step().loss == pytest.approx(trainer.step().loss, abs=1e-6)
    assert torch.equal(fresh.predict(x), trainer.predict(x))


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint file at"):
        load_checkpoint(tmp_path / "nope.pt")


@pytest.mark.parametrize("content", [b"this is not a checkpoint", b""])
def test_garbage_file(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)  # an empty file: torch's error has no message at all
    with pytest.raises(CheckpointError, match="bad.pt is not a readable checkpoint"):
        load_checkpoint(path)


def test_foreign_torch_file(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"conv.weight": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="is not a convscope checkpoint"):
        load_checkpoint(path)


def test_truncated_file(make_trainer, tiny_dataset, tmp_path):
    path = save_checkpoint(make_trainer(), tmp_path / "run.pt")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


def _resave(path, edit):
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, path)


def test_weights_that_do_not_fit_the_spec(make_trainer, tiny_dataset, tmp_path):
    path = save_checkpoint(make_trainer(), tmp_path / "run.pt")
    _resave(path, lambda p: p["spec"][1].update(filters=8))
    with pytest.raises(CheckpointError, match="the weights do not fit its network"):
        load_checkpoint(path)


def test_invalid_spec_and_missing_keys_and_version(make_trainer, tiny_dataset, tmp_path):
    path = save_checkpoint(make_trainer(), tmp_path / "run.pt")
    _resave(path, lambda p: p["spec"][1].update(size=99))
    with pytest.raises(CheckpointError, match="invalid network or settings: layer 1 \\(conv\\)"):
        load_checkpoint(path)
    path = save_checkpoint(make_trainer(), tmp_path / "run.pt")
    _resave(path, lambda p: p.pop("optimizer"))
    with pytest.raises(CheckpointError, match="incomplete: missing optimizer"):
        load_checkpoint(path)
    path = save_checkpoint(make_trainer(), tmp_path / "run.pt")
    _resave(path, lambda p: p.update(version=99))
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(path)


def test_spec_is_kept_with_the_weights(make_trainer, tmp_path):
    trainer = make_trainer()
    ckpt = load_checkpoint(save_checkpoint(trainer, tmp_path / "run.pt"))
    assert ckpt.spec == trainer.spec  # every layer's every field, not only the types
    assert ckpt.spec[1]["filters"] == 4 and ckpt.spec[3]["size"] == 4
    model = ckpt.build_model()
    assert model.layers[1].weight.shape == (4, 3, 3, 3)
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name


def test_a_resumed_lookahead_starts_from_the_restored_weights(make_trainer, tiny_dataset, tmp_path):
    trainer = make_trainer(lookahead=True)
    for _ in range(6):
        trainer.step()
    checkpoint = load_checkpoint(save_checkpoint(trainer, tmp_path / "run.pt"))
    fresh = Trainer(checkpoint.spec, tiny_dataset, checkpoint.config, device="cpu")
    restore(fresh, checkpoint)
    restored = [t for t in fresh.model.state_dict().values() if t.is_floating_point()]
    assert all(torch.equal(slow, now) for slow, now in zip(fresh.lookahead.slow, restored))
