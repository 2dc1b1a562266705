"""Where training runs: device choice, bf16 support, and the CPU allocator setting that matters."""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Literal, get_args

import torch

Device = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[str, ...] = get_args(Device)


class DeviceError(ValueError):
    """The requested device cannot be used here."""


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when present, else the CPU; 'cuda' without a GPU is an error."""
    if name not in DEVICES:
        raise DeviceError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda was asked for, but PyTorch sees no CUDA GPU here; "
                          "use --device cpu (or auto)")
    if name == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


Precision = Literal["bf16", "fp16", "fp32"]


def has_fast_bf16(device: torch.device) -> bool:
    """True where bf16 runs natively: GPUs of compute capability 8.0 and up (Ampere and later;
    torch.cuda.is_bf16_supported() also says yes where it is emulated, on a T4 or V100), and CPUs
    whose oneDNN runs bf16 natively (AVX-512 and up). Measured on an AVX-512 BF16 CPU: 1.65x fp32
    for `fast`; tiny networks lose to the casts, so their presets ask for fp32."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def auto_precision(device: torch.device) -> Precision:
    """What precision="auto" trains in: bf16 where it is native, else fp16 (with a gradient
    scaler) on a GPU, else fp32."""
    if has_fast_bf16(device):
        return "bf16"
    return "fp16" if device.type == "cuda" else "fp32"


def keep_freed_memory() -> bool:
    """Stop glibc from handing large buffers back to the OS after every step.

    By default each step's activations are mmap'ed and unmapped again, so the next step
    page-faults them back in (a long zero-fill, high system time). Same effect as starting
    the process with MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<huge>. Returns False where
    the C library has no mallopt (not glibc).
    """
    path = ctypes.util.find_library("c")
    if path is None:
        return False
    libc = ctypes.CDLL(path)
    if not hasattr(libc, "mallopt"):
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # glibc's <malloc.h> constants
    ok_trim = libc.mallopt(m_trim_threshold, ctypes.c_int(2**31 - 1))
    ok_mmap = libc.mallopt(m_mmap_max, ctypes.c_int(0))
    return bool(ok_trim and ok_mmap)
