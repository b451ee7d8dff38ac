"""Build the paper's train/test subsets (x, y, canonical idx) as data/<task>/*.pt files.

By default from the shipped subset arrays; `--source mnist-full` selects the same indices from the
shipped full MNIST, `--source torchvision --data-root DIR` from a download (where torchvision imports).
`--subset-seed R` (R >= 1) draws a fresh class-balanced training subset and a test subset of the paper's size
from the full data instead (data/<task>/train_subset_<n>pc_r<R>.pt, test_subset_r<R>.pt; experiments
`<model>_<task>_<n>pc_r<R>`): MNIST tasks from the shipped full MNIST, CIFAR-10 from a download.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bayestda.cli.flags import Parser, add_subset_seed_flag, positive_int
from bayestda.cli.scripts import run
from bayestda.data.subsets import SOURCES, generate_subsets
from bayestda.experiments.experiment import TASKS, check_size, check_task

log = logging.getLogger("run_subset_generation")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("--task", choices=tuple(TASKS), help=f"one of {', '.join(TASKS)}; default: all")
    parser.add_argument("--num_per_class", type=positive_int, help="one train size; default: all sizes of the task")
    parser.add_argument("--source", default="shipped", choices=SOURCES, help=f"one of {', '.join(SOURCES)}")
    parser.add_argument("--data-root", type=Path, help="download folder for --source torchvision")
    add_subset_seed_flag(parser)
    args = parser.parse_args(argv)
    tasks = [check_task(args.task).name] if args.task else list(TASKS)
    for task in tasks:  # every size is checked before any file is made
        if args.num_per_class:
            check_size(task, args.num_per_class)
    for task in tasks:
        sizes = [args.num_per_class] if args.num_per_class else list(TASKS[task].sizes)
        paths = generate_subsets(task, sizes, source=args.source, data_root=args.data_root, subset_seed=args.subset_seed)
        draw = f"fresh draw {args.subset_seed} from the full data" if args.subset_seed else f"source {args.source}"
        log.info("%s: %d subset files, %s", task, len(paths), draw)
    return 0


if __name__ == "__main__":
    run(main)
