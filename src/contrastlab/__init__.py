"""contrastlab: contrastive representation learning on images: train, evaluate, diagnose."""

__version__ = "0.1.0"
