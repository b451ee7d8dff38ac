"""Model architectures: the paper's CNNs (`cnn`) and the LoRA ViT (`vit`, imported on demand: it needs transformers)."""

from .cnn import CNN2, CNN3, build_cnn

__all__ = ["CNN2", "CNN3", "build_cnn"]
