"""The analysis scripts' body (run_compute_pvalues.py, run_correlation_analysis.py): an experiment's scores or
anyone's folder of score files, checked whole, then the posterior test's files.

Apart from `cli` so that the per-seed scripts do not import the statistics stack (scipy.stats, seaborn) they
never use (their import time: docs/architecture.md).
"""

from __future__ import annotations

from ..analysis import correlations_of, load_scores_dir, pvalues_of, read_classes, roles_for
from ..attribution.registry import check_methods, helpful_signs
from ..core.errors import BadInput
from ..core.seeds import load_seeds
from ..experiments.experiment import Experiment
from ..results.analysis import run_correlations, run_pvalues
from ..training.lds import MAX_MODELS, TARGETS
from .flags import Parser, analysis_seed_ids, experiment_name, int_range, method_name_list, sign_map, unique
from .flags import lds_subsets as lds_subsets_type


def run_analysis_script(description: str, argv: list[str] | None, stage: str) -> int:
    """The analysis scripts' body: `--experiment NAME` (repeatable) or `--scores-dir DIR --out OUT` (anyone's
    scores in the paper's layout). stage 'pvalues' writes the p-values; 'correlations' the rest and summary.md.
    Every argument and input is checked before anything is written."""
    args = _parser(description, stage).parse_args(argv)
    if args.scores_dir is not None:
        return _analyse_scores_dir(args, stage)
    return _analyse_experiments(args, stage)


def _parser(description: str, stage: str) -> Parser:
    parser = Parser(description=description)
    parser.add_argument("--experiment", type=experiment_name, action="append", default=None,
                        help="e.g. cnn_mnist3_10pc (repeatable)")
    parser.add_argument("--scores-dir", default=None,
                        help="a folder <method>/<seed>/attribution_ckpt_<e>.csv of any scores (with --out)")
    parser.add_argument("--out", default=None, help="output folder for --scores-dir")
    parser.add_argument("--methods", type=method_name_list, default=None,
                        help="comma-separated methods (default: the experiment's whole analysis, every default method and the "
                             "family's own, into results/<experiment>/; other methods: a folder inside it named by them; "
                             "with --scores-dir every method in it)")
    parser.add_argument("--seed_ids", type=analysis_seed_ids, default=None,
                        help="comma-separated seed ids, at least 2 (default: all 10 seeds)")
    parser.add_renamed("--seeds", "--seed_ids")
    parser.add_argument("--signs", type=sign_map, default=None,
                        help="--scores-dir only: METHOD=SIGN,... with SIGN +1 (positive = helpful, the default for every "
                             "method) or -1 (negative = helpful), e.g. if=-1,ats=-1")
    parser.add_argument("--builtin-signs", action="store_true",
                        help="--scores-dir only: give folders named like a built-in method (if, ats, ...) its sign")
    parser.add_argument("--truth", default=None,
                        help="--scores-dir only: the method whose posterior mean is the LOO ground truth "
                             "(default: none, no LOO correlation)")
    parser.add_argument("--classes", default=None,
                        help="--scores-dir only: a CSV split,item,label with the class of every train and test item "
                             "(adds the same-class/cross-class split and the within-class LOO correlation)")
    if stage == "correlations":
        parser.add_argument("--lds-subsets", type=lds_subsets_type("no LDS"), default=None,
                            help="M of the LDS retraining to use (required then); default: the model family's M where "
                                 "its subset models exist; 0: no LDS")
        parser.add_argument("--lds-target", default=None, choices=TARGETS,
                            help="the LDS target to use: independent or paired (default: independent where its subset "
                                 "models exist, else paired)")
        parser.add_argument("--lds-models", type=int_range(1, MAX_MODELS), default=10,
                            help="R of the independent target (default 10)")
    return parser


def _analyse_scores_dir(args, stage: str) -> int:
    """Anyone's folder of score files: their signs, truth and classes as the flags give them, files into --out."""
    if args.out is None or args.experiment:
        raise BadInput("--scores-dir needs --out OUT and no --experiment; e.g. "
                       "python run_compute_pvalues.py --scores-dir my_scores --out results/my_scores")
    if args.seed_ids:
        raise BadInput("--seed_ids is for --experiment; --scores-dir takes every seed folder it holds")
    posteriors = load_scores_dir(args.scores_dir, args.methods)
    signs = dict(args.signs or {})
    unknown = [m for m in signs if m not in posteriors]
    if unknown:
        raise BadInput(f"--signs names {unknown[0]!r}, which is not among the scores; methods: "
                       f"{', '.join(posteriors)}")
    builtin = helpful_signs()
    if args.builtin_signs:
        signs = {**{m: builtin[m] for m in posteriors if m in builtin}, **signs}
    roles = roles_for(posteriors, signs, args.truth, command_line=True, builtin_signs=builtin)
    first = next(iter(posteriors.values()))
    classes = read_classes(args.classes, first.train_idx, first.test_idx) if args.classes else None
    print(roles.describe())
    if stage == "pvalues":
        table = pvalues_of(posteriors, args.out, classes)
        print(table[table["K"] == table["K"].max()].to_string(index=False))
    else:
        correlations_of(posteriors, args.out, name=args.scores_dir, roles=roles, classes=classes)
        print(f"wrote {args.out}/summary.md")
    return 0


def _analyse_experiments(args, stage: str) -> int:
    """An experiment's own scores: the registry's signs, loo_corrected as the truth, its labels; files into the
    analysis' folder (results/<exp>/ for the whole analysis)."""
    if args.signs or args.builtin_signs or args.truth or args.classes:
        raise BadInput("--signs, --builtin-signs, --truth and --classes are for --scores-dir; an experiment's methods "
                       "carry the registry's signs, loo_corrected as the LOO ground truth and the data's labels")
    if args.out is not None:
        raise BadInput("--out is for --scores-dir; an experiment's results go to results/<experiment>/ (its whole "
                       "analysis) or to a folder inside it named by the methods analysed")
    experiments = [Experiment.parse(name) for name in unique(args.experiment or ["cnn_mnist3_10pc"], "--experiment",
                                                               refuse=False)]
    seeds = [load_seeds()[k] for k in args.seed_ids] if args.seed_ids else None
    methods = check_methods(args.methods) if args.methods else None
    for experiment in experiments:
        folder = experiment.analysis_dir(methods or experiment.whole_analysis_methods, seeds)
        if stage == "pvalues":
            table = run_pvalues(experiment, methods, seeds)
            print(table[(table["K"] == table["K"].max())].to_string(index=False))
            print(f"wrote the p-values of {experiment.name} in {folder}")
        else:
            run_correlations(experiment, methods, seeds, lds_subsets=args.lds_subsets, lds_target=args.lds_target,
                             lds_models=args.lds_models)
            print(f"wrote {folder / 'summary.md'}")
    return 0

