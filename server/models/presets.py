"""The preset zoo: the networks of a CNN course's history, sized for CIFAR-10 on a CPU.

Each preset is a spec, a note for students (the idea the network introduced), and a recipe:
overrides of TrainConfig (server/train/config.py) that make it train well by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class UnknownModel(ValueError):
    """Not a preset name (nor, for load_spec, a spec file)."""


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    note: str  # 2-3 sentences: the idea this network introduced
    spec: list[dict]
    recipe: dict[str, Any] = field(default_factory=dict)  # TrainConfig field overrides


def layer(kind: str, **fields: Any) -> dict:
    return {"type": kind, **fields}


def conv(filters: int, size: int, **fields: Any) -> dict:
    return {"type": "conv", "filters": filters, "size": size, **fields}


INPUT = layer("input", channels=3, height=32, width=32)
RELU, SOFTMAX = layer("relu"), layer("softmax")


def conv_bn_relu(filters: int, stride: int = 1) -> list[dict]:
    return [conv(filters, 3, stride=stride, pad=1, bias=False), layer("batchnorm"), RELU]


def inception(c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int, pool_proj: int) -> dict:
    """GoogLeNet's block: 1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max pool -> 1x1, each conv followed by relu."""
    return layer("inception", branches=[
        [conv(c1, 1), RELU],
        [conv(c3_reduce, 1), RELU, conv(c3, 3, pad=1), RELU],
        [conv(c5_reduce, 1), RELU, conv(c5, 5, pad=2), RELU],
        [layer("pool", size=3, stride=1, pad=1), conv(pool_proj, 1), RELU],
    ])


def basic_block(filters: int, stride: int = 1) -> dict:
    """ResNet's basic block: conv3x3-BN-relu-conv3x3-BN, added to the shortcut, then relu."""
    body = [*conv_bn_relu(filters, stride), conv(filters, 3, pad=1, bias=False), layer("batchnorm")]
    return layer("residual", layers=body, activation="relu")


def airbench_block(filters: int) -> list[dict]:
    return [conv(filters, 3, pad=1, bias=False), layer("pool", size=2), layer("batchnorm"), layer("gelu"),
            conv(filters, 3, pad=1, bias=False), layer("batchnorm"), layer("gelu")]


def speed_run(*widths: int) -> list[dict]:
    """airbench's network: 2x2 patch whitening (with a bias), three conv-pool blocks, max pool, a
    bias-free fc whose logits are scaled down by 8."""
    return [INPUT, layer("whiten", size=2, bias=True), layer("gelu"),
            *(part for width in widths for part in airbench_block(width)),
            layer("globalpool", mode="max"), layer("fc", units=10, bias=False), layer("scale", factor=0.125),
            SOFTMAX]


# The speed-run recipe (after Keller Jordan's airbench, David Page and hlb-CIFAR10), each trick a
# TrainConfig field; benchmarks/ablation.py measures what each one is worth on this machine.
# Learning rates are per image-averaged loss.
SPEED_RECIPE: dict[str, Any] = {
    "optimizer": "sgd", "nesterov": True,
    "batch_size": 512,
    "epochs": 10,
    "lr": 0.4, "momentum": 0.9,
    "schedule": "linear", "warmup": 0.2,  # the triangle: up for a fifth of the run, then down to 0
    "weight_decay": 5e-4,  # L2, through the momentum
    "label_smoothing": 0.2,  # targets 0.8 + 0.02: a well-calibrated net with a big lr
    "crop_pad": 2,  # translation: random 32x32 crops of the 2 px reflect-padded image
    "alternate_flip": True,  # each image mirrored in every other epoch: no repeated view twice in a row
    "flip_tta": True, "tta_shift": 1,  # test: image + mirror, and 1 px shifted copies at a quarter each
    "init": "dirac",  # 3x3 convs start as the identity on their first channels: a shallow net at first
    "bn_frozen_weight": True,  # BN scales fixed at 1: the conv weights' size is the only scale
    "bias_lr": 64.0,  # BN and whitening biases learn 64x faster (decay 64x smaller): they set what each GELU passes
    "bn_momentum": 0.4,  # running statistics follow the last few batches: the weights move fast
    "whiten_bias_epochs": 3.0,  # the whitening layer's bias learns early, then is frozen
    # lookahead (pulled to a slow average every 5 steps, harder towards the end) is left out: at a
    # one-epoch budget it cost 1.4 points here (benchmarks/ablation.py); airbench gains from it over
    # ten epochs, with the fast batchnorm statistics above: measure it again at the preset's length
    "lookahead": False,
}

# d2l.ai's train_ch6: plain SGD (no momentum, no weight decay) on raw pixels / 255, batch 256,
# 10 epochs at a constant learning rate, no augmentation, Xavier-uniform conv and fc weights.
D2L_RECIPE: dict[str, Any] = {
    "optimizer": "sgd", "momentum": 0.0, "nesterov": False, "weight_decay": 0.0, "batch_size": 256,
    "epochs": 10, "schedule": "constant", "warmup": 0.0, "label_smoothing": 0.0, "crop_pad": 0,
    "flip": False, "normalize": False, "init": "xavier", "precision": "fp32"}

PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset(
        "convnetjs", "ConvNetJS CIFAR-10 demo",
        "The network of Andrej Karpathy's ConvNetJS demo, which trained live in a web browser: three "
        "conv-relu-pool stages with 5x5 filters and one fully connected layer. It made a convolutional "
        "network's filters and activations visible to anyone, while it learned.",
        [INPUT,
         conv(16, 5, stride=1, pad=2), RELU, layer("pool", size=2, stride=2),
         conv(20, 5, stride=1, pad=2), RELU, layer("pool", size=2, stride=2),
         conv(20, 5, stride=1, pad=2), RELU, layer("pool", size=2, stride=2),
         layer("fc", units=10), SOFTMAX],
        # 8 epochs: past 70% test accuracy in under two minutes on a 2-core CPU. fp32: this net is so
        # small that bf16 casts cost more than they save (3,100 vs 1,600 img/s measured here).
        # No crops: a 22k-parameter net underfits, and at 8 epochs flips alone do as well.
        {"optimizer": "sgd", "lr": 0.05, "batch_size": 128, "epochs": 8, "schedule": "onecycle",
         "label_smoothing": 0.0, "weight_decay": 5e-4, "crop_pad": 0, "precision": "fp32"},
    ),
    Preset(
        "lenet", "LeNet-5 (1998)",
        "LeCun's LeNet-5 showed that convolutions with shared weights plus pooling (subsampling), trained "
        "end to end by backpropagation, learn their own features: it read handwritten digits and cheques. "
        "It took 32x32 images, so here conv1 has no padding and the shapes are the original's "
        "(28, 14, 10, 5: 16*5*5 = 400 features into fc 120), with sigmoids and average pooling as d2l.ai teaches it.",
        [INPUT,
         conv(6, 5), layer("sigmoid"), layer("pool", mode="avg", size=2, stride=2),
         conv(16, 5), layer("sigmoid"), layer("pool", mode="avg", size=2, stride=2),
         layer("fc", units=120), layer("sigmoid"), layer("fc", units=84), layer("sigmoid"),
         layer("fc", units=10), SOFTMAX],
        {"optimizer": "adamw", "lr": 3e-3, "batch_size": 128, "epochs": 10, "schedule": "onecycle",
         "weight_decay": 1e-2, "precision": "fp32"},
    ),
    Preset(
        "lenet-d2l", "LeNet as Dive into Deep Learning trains it (Fashion-MNIST)",
        "The book's LeNet, exactly: 28x28 grayscale images, conv1 padded by 2 so its 6 maps stay 28x28, "
        "sigmoids and 2x2 average pooling, fc 120 - 84 - 10, Xavier-initialised and trained by plain SGD "
        "at learning rate 0.9 on raw pixels. The book reports loss 0.47, train accuracy 0.82 and test "
        "accuracy 0.78-0.80 after 10 epochs: the sigmoids learn slowly, which is the lesson.",
        [layer("input", channels=1, height=28, width=28),
         conv(6, 5, pad=2), layer("sigmoid"), layer("pool", mode="avg", size=2, stride=2),
         conv(16, 5), layer("sigmoid"), layer("pool", mode="avg", size=2, stride=2),
         layer("fc", units=120), layer("sigmoid"), layer("fc", units=84), layer("sigmoid"),
         layer("fc", units=10), SOFTMAX],
        D2L_RECIPE | {"lr": 0.9},
    ),
    Preset(
        "lenet-bn", "LeNet with batch normalisation (Fashion-MNIST)",
        "The book's LeNet with batch normalisation after every conv and fc layer but the last (d2l.ai, "
        "Batch Normalization). The sigmoids now see inputs of zero mean and unit variance. So the same "
        "network at learning rate 1.0 learns in one epoch what plain LeNet needs ten for.",
        [layer("input", channels=1, height=28, width=28),
         conv(6, 5, pad=2), layer("batchnorm"), layer("sigmoid"), layer("pool", mode="avg", size=2, stride=2),
         conv(16, 5), layer("batchnorm"), layer("sigmoid"), layer("pool", mode="avg", size=2, stride=2),
         layer("fc", units=120), layer("batchnorm"), layer("sigmoid"),
         layer("fc", units=84), layer("batchnorm"), layer("sigmoid"), layer("fc", units=10), SOFTMAX],
        D2L_RECIPE | {"lr": 1.0},
    ),
    Preset(
        "alexnet-mini", "AlexNet, CIFAR-sized (2012)",
        "AlexNet won ImageNet 2012 by a wide margin with a deeper, wider LeNet trained on GPUs: ReLU instead "
        "of saturating sigmoids, dropout in its large fully connected layers, overlapping 3x3 stride-2 max "
        "pooling and data augmentation. This version keeps its shape (large filters first, then three stacked "
        "3x3 convs, two dropout fc layers) at CIFAR scale.",
        [INPUT,
         conv(48, 5, pad=2), RELU, layer("pool", size=3, stride=2),
         conv(96, 5, pad=2), RELU, layer("pool", size=3, stride=2),
         conv(144, 3, pad=1), RELU, conv(144, 3, pad=1), RELU, conv(96, 3, pad=1), RELU,
         layer("pool", size=3, stride=2),
         layer("fc", units=256), RELU, layer("dropout", p=0.5),
         layer("fc", units=256), RELU, layer("dropout", p=0.5),
         layer("fc", units=10), SOFTMAX],
        {"optimizer": "adamw", "lr": 2e-3, "batch_size": 128, "epochs": 15, "schedule": "onecycle",
         "weight_decay": 5e-2},
    ),
    Preset(
        "vgg-mini", "VGG, CIFAR-sized (2014)",
        "VGG showed that depth built from one repeated block works: stacks of 3x3 convolutions, then a 2x2 "
        "max pool, doubling the channels each time the image halves. Two stacked 3x3 convs see a 5x5 window "
        "with fewer weights (2*9 = 18 instead of 25 per channel pair) and an extra nonlinearity; batchnorm "
        "(2015, not in the original) is added so it trains fast.",
        [INPUT,
         *conv_bn_relu(32), *conv_bn_relu(32), layer("pool", size=2),
         *conv_bn_relu(64), *conv_bn_relu(64), *conv_bn_relu(64), layer("pool", size=2),
         *conv_bn_relu(128), *conv_bn_relu(128), *conv_bn_relu(128), layer("pool", size=2),
         layer("fc", units=256), RELU, layer("dropout", p=0.5), layer("fc", units=10), SOFTMAX],
        {"optimizer": "sgd", "lr": 0.05, "batch_size": 128, "epochs": 15, "schedule": "onecycle",
         "weight_decay": 5e-4},
    ),
    Preset(
        "nin-mini", "Network in Network, CIFAR-sized (2013)",
        "Network in Network put a small multilayer perceptron at every pixel: 1x1 convolutions after each "
        "spatial convolution mix the channels. Its last block gives one channel per class and global average "
        "pooling turns them into scores, so it has no fully connected layer at all; 1x1 convolutions became "
        "a standard tool.",
        [INPUT,
         layer("nin", filters=64, size=5, pad=2), layer("pool", size=3, stride=2), layer("dropout", p=0.3),
         layer("nin", filters=96, size=5, pad=2), layer("pool", size=3, stride=2), layer("dropout", p=0.3),
         layer("nin", filters=10, size=3, pad=1), layer("globalpool", mode="avg"), SOFTMAX],
        {"optimizer": "adamw", "lr": 2e-3, "batch_size": 128, "epochs": 15, "schedule": "onecycle",
         "weight_decay": 5e-2},
    ),
    Preset(
        "googlenet-mini", "GoogLeNet, CIFAR-sized (2014)",
        "GoogLeNet is built from Inception blocks: 1x1, 3x3 and 5x5 convolutions and a pooling path run side by "
        "side on the same input and are concatenated on channels, with 1x1 convolutions shrinking the channels "
        "before the expensive filters to keep the cost low. Like NiN it ends in global average pooling; the "
        "blocks here are GoogLeNet's 3a, 3b and 4a at half the width.",
        [INPUT,
         conv(64, 3, pad=1), layer("batchnorm"), RELU, layer("pool", size=3, stride=2, pad=1),
         inception(32, 48, 64, 8, 16, 16), inception(64, 64, 96, 16, 48, 32),
         layer("pool", size=3, stride=2, pad=1),
         inception(96, 48, 104, 8, 24, 32),
         layer("globalpool", mode="avg"), layer("dropout", p=0.4), layer("fc", units=10), SOFTMAX],
        {"optimizer": "adamw", "lr": 2e-3, "batch_size": 128, "epochs": 15, "schedule": "onecycle",
         "weight_decay": 5e-2},
    ),
    Preset(
        "resnet-mini", "ResNet, CIFAR-sized (2015)",
        "ResNet adds each block's input to its output, y = F(x) + x, so a block only has to learn a residual "
        "and gradients flow straight through the identity path: that made networks of 100+ layers trainable. "
        "When a block halves the image and doubles the channels, a strided 1x1 conv on the shortcut (a "
        "projection) makes the shapes match.",
        [INPUT,
         *conv_bn_relu(32),
         basic_block(32), basic_block(64, stride=2), basic_block(128, stride=2),
         layer("globalpool", mode="avg"), layer("fc", units=10), SOFTMAX],
        {"optimizer": "sgd", "lr": 0.05, "batch_size": 128, "epochs": 15, "schedule": "onecycle",
         "weight_decay": 5e-4},
    ),
    Preset(
        "fast", "Speed-run net (airbench-style)",
        "The CIFAR-10 speed runs (David Page's ResNet-9, then Keller Jordan's airbench) reach 94% in seconds "
        "on one GPU with a short, wide net: a first layer that whitens 2x2 patches, conv-pool-batchnorm "
        "blocks, big batches with Nesterov SGD, and many small tricks (see its recipe). The lesson: "
        "on a fixed budget, a small well-conditioned network and a tuned recipe beat a bigger network. "
        "Widths 48/192/192 (airbench: 64/256/256) size it for a 2-core CPU.",
        speed_run(48, 192, 192),
        SPEED_RECIPE,
    ),
    Preset(
        "fast-wide", "Speed-run net at airbench94's widths",
        "The same speed-run network and recipe at airbench94's widths, 64/256/256, with batches of 1,024: "
        "sized for a GPU (airbench94 takes such a net to 94% in ten epochs) and 1.7 times the work of `fast`. "
        "Wider layers learn more per image; on a small machine they cost more per second than they give.",
        speed_run(64, 256, 256),
        {**SPEED_RECIPE, "batch_size": 1024, "lr": 0.8},
    ),
]}


def get_preset(name: str) -> Preset:
    """The preset called `name`; UnknownModel lists the known names."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise UnknownModel(f"unknown model {name!r}; known models: {', '.join(PRESETS)}") from None
