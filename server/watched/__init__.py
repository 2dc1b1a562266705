"""convscope.watch: any PyTorch model and training loop, on convscope's live page (docs/watch.md)."""

from .session import Watch
from .start import watch

__all__ = ["Watch", "watch"]
