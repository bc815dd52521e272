"""contrastlab: contrastive representation learning on images: train, evaluate, diagnose."""

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate_run"]


def __getattr__(name: str) -> Any:
    # `contrastlab.evaluate_run` imports torch only when used, so the CLI starts fast
    if name == "evaluate_run":
        from contrastlab.api.evaluate_run import evaluate_run

        return evaluate_run
    raise AttributeError(f"module 'contrastlab' has no attribute {name!r}")
