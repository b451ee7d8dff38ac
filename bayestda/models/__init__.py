"""Model families: the paper's CNNs (and, later, the LoRA ViT)."""

from .cnn import CNN2, CNN3, ChannelsLastEvaluator, build_cnn, is_paper_cnn

__all__ = ["CNN2", "CNN3", "ChannelsLastEvaluator", "build_cnn", "is_paper_cnn"]
