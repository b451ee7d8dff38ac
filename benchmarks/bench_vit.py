"""Unit costs of the LoRA ViT pipeline on one device, and the per-stage wall times they imply for one seed.

    python benchmarks/bench_vit.py --vit-weights random-base --device cuda      # ViT-B/16, random weights
    python benchmarks/bench_vit.py --vit-weights random-tiny                    # the CPU test model

Times, on real mnist3_10pc images at the model's input size: one fine-tuning step (32 items, dropout on),
a forward pass over test items, per-sample gradients, a batch of Hessian-vector products and one LOO
model step; then the stages of one seed (fine-tuning, GD/GC, LiSSA, LOO, ATS) as counts x unit costs.
Peak GPU memory is printed on CUDA devices. The timed units run the library's own functions.
"""

from __future__ import annotations

import time

import torch

from bayestda.cli.flags import Parser, add_device_flag, positive_int
from bayestda.core.params import detached_params
from bayestda.data.subsets import generate_subsets, subset_path
from bayestda.experiments.experiment import Experiment
from bayestda.models.vit import model_name_for
from bayestda.numerics.evaluation import logits_of
from bayestda.numerics.hvp import batch_hvp
from bayestda.numerics.many_models import AdamSettings, train_many
from bayestda.numerics.per_sample import per_sample_grads
from bayestda.training.checkpoints import build_model


def timed(fn, device: str, repeats: int = 2) -> float:
    """Best of `repeats` wall times of fn() after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = Parser(description=__doc__)
    parser.add_argument("--vit-weights", default="random-base")
    add_device_flag(parser, "cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--items", type=positive_int, default=32, help="items per timed unit")
    args = parser.parse_args(argv)
    experiment = Experiment(model_name_for(args.vit_weights), "mnist3", 10, vit_weights=args.vit_weights)
    if not subset_path("mnist3", "test").exists():
        generate_subsets("mnist3", [10])
    torch.manual_seed(0)
    net = build_model(experiment).to(args.device)
    params = detached_params(net)
    family = experiment.family
    train, test = family.load_data(experiment, net)
    x, y = train.x[: args.items].to(args.device), train.y[: args.items].to(args.device)
    k = len(x)
    optimizer = AdamSettings().optimizer([p for p in net.parameters() if p.requires_grad])

    def fine_tune_step():
        net.train()
        optimizer.zero_grad()
        family.loss(net(x), y).backward()
        optimizer.step()

    units = {
        f"fine-tuning step ({k} items)": timed(fine_tune_step, args.device),
        f"forward, {k} items": timed(lambda: logits_of(net.eval(), params, x), args.device),
        f"per-sample gradients, {k} items": timed(lambda: per_sample_grads(net.eval(), params, x, y), args.device),
        "8 HVPs on a batch of 8": timed(lambda: batch_hvp(net.eval(), params, x[:8], y[:8],
                                                          torch.randn(8, sum(p.numel() for p in params.values()),
                                                                      device=args.device)), args.device, 1),
        "LOO: 2 models x 3 steps": timed(lambda: train_many(net, [params] * 2, x, y, [[torch.arange(k)]] * 3,
                                                            strategy="auto"), args.device, 1),
    }
    n_train, n_test, epochs, ckpts = len(train), len(test), experiment.epochs, 5
    per = {name: seconds for name, seconds in units.items()}
    grad_item = per[f"per-sample gradients, {k} items"] / k
    forward_item = per[f"forward, {k} items"] / k
    stages = {
        "fine-tuning, 1 seed (15 steps + 5 evaluations)": epochs * per[f"fine-tuning step ({k} items)"] * 30 / k
        + ckpts * n_test * forward_item,
        "GD + GC, 5 checkpoints": ckpts * (n_train + n_test) * grad_item,
        "IF (LiSSA, train side), 5 checkpoints": ckpts * (n_train * grad_item + (n_train // 8 + 1) * n_train / 8
                                                         * per["8 HVPs on a batch of 8"] + n_test * grad_item),
        "LOO, 5 checkpoints (31 models x 15 steps + evaluation)": ckpts * ((n_train + 1) * epochs
                                                                           * per["LOO: 2 models x 3 steps"] / 6 * 30 / k
                                                                           + (n_train + 2) * n_test * forward_item),
        "ATS, 5 checkpoints (30 one-step models + evaluation)": ckpts * (n_train * grad_item + n_train * n_test * forward_item),
    }
    print(f"{experiment.name} on {args.device} ({sum(p.numel() for p in params.values())} trainable parameters)")
    for name, seconds in units.items():
        print(f"  unit  {name:<50} {seconds:8.3f} s")
    for name, seconds in stages.items():
        print(f"  stage {name:<50} {seconds:8.0f} s  (estimate from the units)")
    if args.device.startswith("cuda"):
        print(f"  peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
