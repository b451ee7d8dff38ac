"""Model families: the paper's CNNs (and, later, the LoRA ViT)."""

from .cnn import CNN2, CNN3, build_cnn

__all__ = ["CNN2", "CNN3", "build_cnn"]
