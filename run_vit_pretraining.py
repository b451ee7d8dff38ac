"""Pretrain the small ViT backbone `mnist-pretrained`: the offline stand-in for the paper's ImageNet-21k ViT.

Supervised classification of all ten digits on the MNIST train images in no index list of any task, with the
fine-tuning's random resized crops; AdamW, linear warm-up then cosine decay, fixed seed. Writes --out
(default: the shipped data/backbones/mnist-pretrained) with config.json, model.safetensors (the backbone
only, no classifier) and pretraining.json (settings, losses, held-out accuracy, wall time, sha256). An
interrupted run resumes from its last finished epoch. Defaults are the shipped backbone's (docs/vit.md).
"""

import shlex
import sys
from pathlib import Path

from bayestda.cli.flags import Parser, non_negative_int, positive_int
from bayestda.cli.scripts import run
from bayestda.models.vit import shipped_dir
from bayestda.training.vit_pretraining import PretrainSettings, pretrain


def main(argv: list[str] | None = None) -> int:
    defaults = PretrainSettings()
    parser = Parser(description=__doc__)
    parser.add_argument("--out", type=Path, default=shipped_dir("mnist-pretrained"), help="folder for the backbone")
    parser.add_argument("--overwrite", action="store_true", help="pretrain again over finished weights in --out")
    parser.add_argument("--hidden-size", type=positive_int, default=defaults.hidden_size)
    parser.add_argument("--layers", type=positive_int, default=defaults.num_layers)
    parser.add_argument("--heads", type=positive_int, default=defaults.num_heads)
    parser.add_argument("--intermediate-size", type=positive_int, default=defaults.intermediate_size)
    parser.add_argument("--image-size", type=positive_int, default=defaults.image_size)
    parser.add_argument("--patch-size", type=positive_int, default=defaults.patch_size)
    parser.add_argument("--epochs", type=positive_int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=positive_int, default=defaults.batch_size)
    parser.add_argument("--seed", type=non_negative_int, default=defaults.seed)
    parser.add_argument("--train-items", type=positive_int, default=None,
                        help="pretrain on the first N unused images only (smoke tests; default: all 59,751)")
    args = parser.parse_args(argv)
    settings = PretrainSettings(hidden_size=args.hidden_size, num_layers=args.layers, num_heads=args.heads,
                                intermediate_size=args.intermediate_size, image_size=args.image_size,
                                patch_size=args.patch_size, epochs=args.epochs, batch_size=args.batch_size,
                                seed=args.seed, train_items=args.train_items)
    command = shlex.join(["python", "run_vit_pretraining.py", *(sys.argv[1:] if argv is None else argv)])
    pretrain(args.out, settings, overwrite=args.overwrite, command=command)
    return 0


if __name__ == "__main__":
    run(main)
