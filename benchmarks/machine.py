"""What the benchmarks print about the machine they ran on (their numbers mean little without it)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def cpu_name() -> str:
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def describe(load_before: float) -> str:
    """One line: CPU, cores, torch threads, the load around the run, torch and Python versions."""
    return (f"machine: {cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
            f"load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after; "
            f"torch {torch.__version__}; python {platform.python_version()}")
