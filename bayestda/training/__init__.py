"""Producers of models: checkpoints and their records, the paper's ensemble (`ensemble`), the LoRA ViT's
fine-tuning and pretraining, the loops a family names (`loops`), the LDS retraining (`lds`)."""
