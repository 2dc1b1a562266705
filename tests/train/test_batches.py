"""The training batch stream: where it is saves as plain numbers, resumes exactly, on any device;
alternating flips mirror every image in exactly one of two epochs."""

import pytest
import torch

from convscope.train import TrainConfig, Trainer, load_checkpoint, restore, save_checkpoint
from convscope.train.batches import TrainBatches

NO_AUGMENT = TrainConfig(crop_pad=0, flip=False)


def numbered(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n 1x2x2 images whose pixels say their index: [[i, i + 0.5], [i, i + 0.5]] (a mirror swaps
    the columns), and labels 0..n-1."""
    row = torch.arange(n, dtype=torch.float32)[:, None] + torch.tensor([0.0, 0.5])
    return row[:, None, None, :].expand(n, 1, 2, 2).contiguous(), torch.arange(n)


def test_the_state_is_device_free_and_resumes_exactly():
    images, labels = numbered(10)
    stream = TrainBatches(images, labels, seed=3)
    cfg = TrainConfig(crop_pad=1)
    for _ in range(4):  # into the second epoch: 4 x 3 > 10
        stream.next(3, cfg)
    state = stream.state_dict()
    assert {k: v for k, v in state.items() if k != "order"} == {"seed": 3, "draws": 4, "epochs": 2, "position": 3}
    assert state["order"].device.type == "cpu" and sorted(state["order"].tolist()) == list(range(10))

    ahead = [stream.next(3, cfg) for _ in range(5)]
    resumed = TrainBatches(images, labels, seed=99)  # the saved seed wins
    resumed.load_state_dict(state)
    for (x, y), (x2, y2) in zip(ahead, [resumed.next(3, cfg) for _ in range(5)]):
        assert torch.equal(x, x2) and torch.equal(y, y2)


def test_a_raw_generator_state_of_another_device_still_loads():
    """Checkpoints before the stream was reseeded per batch hold the generator's raw state: a CUDA
    generator's is 16 bytes (seed and offset), a CPU one's 5,056. Either loads anywhere."""
    images, labels = numbered(10)
    stream = TrainBatches(images, labels, seed=0)
    order = torch.randperm(10)
    stream.load_state_dict({"generator": torch.zeros(16, dtype=torch.uint8), "order": order, "position": 6})
    x, y = stream.next(4, NO_AUGMENT)
    assert y.tolist() == order[6:10].tolist()  # the saved epoch goes on where it was
    assert stream.draws == 1 and stream.epochs == 0


def test_alternating_flip_mirrors_each_image_in_one_of_two_epochs():
    images, labels = numbered(100)
    stream = TrainBatches(images, labels, seed=1)
    cfg = TrainConfig(crop_pad=0, alternate_flip=True)
    flipped = []
    for _ in range(3):
        x, y = stream.next(100, cfg)  # one whole epoch per batch
        mirrored = x[:, 0, 0, 0] > x[:, 0, 0, 1]  # the columns swapped
        flipped.append(mirrored[y.argsort()])  # by image
    assert 30 < int(flipped[0].sum()) < 70  # a random half
    assert torch.equal(flipped[1], ~flipped[0]) and torch.equal(flipped[2], flipped[0])


def test_alternate_flip_needs_flips_allowed():
    images, labels = numbered(20)
    stream = TrainBatches(images, labels, seed=1, flips=False)  # e.g. digits
    x, _ = stream.next(20, TrainConfig(crop_pad=0, alternate_flip=True))
    assert bool((x[:, 0, 0, 0] < x[:, 0, 0, 1]).all())


def test_a_checkpoint_written_for_another_device_resumes_on_this_one(make_trainer, tiny_dataset, tmp_path):
    """A checkpoint of the old format, written on CUDA, with its 16-byte generator state."""
    trainer = make_trainer()
    for _ in range(3):
        trainer.step()
    path = save_checkpoint(trainer, tmp_path / "run.pt")
    payload = torch.load(path, weights_only=True)
    batches = payload["batches"]
    payload["batches"] = {"generator": torch.tensor([7, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
                                                    dtype=torch.uint8),
                          "order": batches["order"], "position": batches["position"]}
    torch.save(payload, path)

    checkpoint = load_checkpoint(path)
    fresh = Trainer(checkpoint.spec, tiny_dataset, checkpoint.config, device="cpu")
    restore(fresh, checkpoint)
    assert fresh.step().step == 4 and fresh.batches.position == batches["position"] + 32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_a_cuda_checkpoint_resumes_on_the_cpu_and_back(tiny_spec, tiny_dataset, tmp_path):
    on_cuda = Trainer(tiny_spec, tiny_dataset, TrainConfig(epochs=2, batch_size=32), device="cuda")
    for _ in range(3):
        on_cuda.step()
    checkpoint = load_checkpoint(save_checkpoint(on_cuda, tmp_path / "cuda.pt"))
    on_cpu = Trainer(checkpoint.spec, tiny_dataset, checkpoint.config, device="cpu")
    restore(on_cpu, checkpoint)
    on_cpu.step()
    back = load_checkpoint(save_checkpoint(on_cpu, tmp_path / "cpu.pt"))
    again = Trainer(back.spec, tiny_dataset, back.config, device="cuda")
    restore(again, back)
    assert again.step().step == 5
