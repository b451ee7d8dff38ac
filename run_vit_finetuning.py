"""Fine-tune the paper's LoRA ViT ensembles: every task, size and seed by default; flags narrow the grid.

Checkpoints (trainable LoRA and classifier weights): models/<vit|vitmnist|vittiny|vitrandom>/<task>_<N>pc/<seed>/
ckpt_epoch_<e>.pth for the last five epochs, plus metrics.json. --vit-weights picks the backbone: the
paper's HuggingFace id (default; needs a network or a filled HF cache), a local directory, mnist-pretrained
(the small ViT pretrained here on unused MNIST digits, experiments vitmnist_...), or random-tiny /
random-base (random weights, distinct experiment names).
"""

import torch

from bayestda.cli.scripts import run, run_training_script


def main(argv: list[str] | None = None) -> int:
    return run_training_script(__doc__, argv, family="vit", device_default="cuda" if torch.cuda.is_available() else "cpu")


if __name__ == "__main__":
    run(main)
