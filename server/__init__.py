"""convscope: watch a CNN learn, layer by layer, live.

    import convscope
    viz = convscope.watch(model, probe=images, labels=labels, classes=names)   # docs/watch.md
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """convscope.watch and convscope.Watch, imported on first use (the CLI does not need torch's web page)."""
    if name in ("watch", "Watch"):
        from . import watched

        return getattr(watched, name)
    raise AttributeError(f"module 'convscope' has no attribute {name!r}")
