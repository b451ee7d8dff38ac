"""Fine-tune the paper's LoRA ViT ensembles: every task, size and seed by default; flags narrow the grid.

Checkpoints (trainable LoRA and classifier weights): models/<vit|vittiny|vitrandom>/<task>_<N>pc/<seed>/
ckpt_epoch_<e>.pth for the last five epochs, plus metrics.json. --vit-weights picks the backbone: the
paper's HuggingFace id (default; needs a network or a filled HF cache), a local directory, or random-tiny /
random-base (random weights, distinct experiment names).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tqdm import tqdm  # noqa: E402

from bayestda.cli import add_experiment_flags, run  # noqa: E402
from bayestda.experiment import check_seed_id, experiments_for, load_seeds  # noqa: E402
from bayestda.models.vit import model_name_for  # noqa: E402
from bayestda.vit_finetuning import finetune_seed  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_experiment_flags(parser, all_by_default=True, family="vit")
    parser.add_argument("--device", default="cuda" if _cuda() else "cpu", help="torch device (default: cuda if present)")
    args = parser.parse_args(argv)
    experiments = experiments_for(model_name_for(args.vit_weights), args.task, args.num_per_class, args.vit_weights)
    seeds = [check_seed_id(args.seed_id)] if args.seed_id is not None else load_seeds()
    jobs = [(e, s) for e in experiments for s in seeds]
    with tqdm(total=sum(e.epochs for e, _ in jobs), desc="fine-tuning epochs", unit="epoch") as bar:
        for experiment, seed in jobs:
            bar.set_postfix_str(f"{experiment.name} seed {seed}")
            finetune_seed(experiment, seed, overwrite=args.overwrite, device=args.device, progress=bar)
    return 0


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    run(main)
