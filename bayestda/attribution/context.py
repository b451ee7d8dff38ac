"""What every method needs at one checkpoint, computed once and shared: gradients, test losses."""

from __future__ import annotations

import copy
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from ..core import channels_last as nhwc
from ..core.losses import Loss, cross_entropy
from ..core.parallel import default_workers
from ..core.params import FlatView, Params
from ..data.subsets import Subset
from ..numerics.evaluation import losses_of_models
from ..numerics.gradient_matrix import GradientMatrix
from ..numerics.many_models import AdamSettings
from ..numerics.per_sample import per_sample_gradients
from .costs import CostLedger

log = logging.getLogger(__name__)


@dataclass
class CheckpointContext:
    """One checkpoint θ_t with its train and test data; caches each gradient the first time it is asked for.

    Everything is computed in `dtype` (float32 by default; float64 for exact comparisons in tests). `loss` is the
    model family's per-item training loss (train gradients, HVPs, retraining), `measurement` what is attributed
    on test items (test gradients and losses); both the paper's cross-entropy by default.
    """

    net: nn.Module
    params: Params
    train: Subset
    test: Subset
    seed: int
    epochs: int
    adam: AdamSettings = AdamSettings(fused=True)  # LOO/ATS models: fused kernel, same update (see AdamSettings)
    strategy: str = "auto"
    dtype: torch.dtype = torch.float32
    model_chunk: int | None = None  # LOO models trained per group (bounds the stacked strategy's memory)
    fresh_start: Callable[[], Params] | None = None  # a seeded, untrained model's trainable weights (loo_pretrained)
    loss: Loss = cross_entropy
    measurement: Loss = cross_entropy
    lr: float | None = None  # the training's mean learning rate in the epoch that ended at this checkpoint (TracInCP)
    epoch: int | None = None  # which checkpoint this is (0-based epoch), where known (the random control's seed)
    batch_size: int = 32  # the training recipe's batch (LOO retraining repeats it)
    scored: Subset | None = None  # the items whose rows are scored, where not the train items (phantom items)
    _cache: dict = field(default_factory=dict, repr=False)
    ledger: CostLedger = field(default_factory=CostLedger, repr=False)  # seconds of each shared computation

    def __post_init__(self) -> None:
        self.net = self.net.to(self.dtype).eval()
        self.params = {n: p.to(self.dtype) for n, p in self.params.items()}
        self.train = Subset(self.train.x.to(self.dtype), self.train.y, self.train.idx)
        self.test = Subset(self.test.x.to(self.dtype), self.test.y, self.test.idx)
        if self.scored is not None:
            self.scored = Subset(self.scored.x.to(self.dtype), self.scored.y, self.scored.idx)

    @property
    def view(self) -> FlatView:
        return FlatView.of(self.params)

    @property
    def device(self) -> torch.device:
        return next(iter(self.params.values())).device

    @property
    def rows(self) -> Subset:
        """The items a method scores (its score matrix's rows): the train items, or the `scored` ones (phantoms)."""
        return self.train if self.scored is None else self.scored

    def for_items(self, items: Subset) -> CheckpointContext:
        """This checkpoint scoring other items as if they were train items (phantom items): what depends only on the
        training set (curvature, retrained models, test gradients) is shared with this context, computed once; what
        depends on the scored items is cached under keys of its own (`row_key`)."""
        return replace(self, scored=items, _cache=self._cache, ledger=self.ledger)

    def row_key(self, key: str) -> str:
        """The cache key of something computed from the scored items (the train items' own key where they are; other
        items' keys name them, so that contexts scoring different items never share rows)."""
        if self.scored is None:
            return key
        return f"{key}@{hashlib.sha1(self.scored.idx.cpu().numpy().tobytes()).hexdigest()[:12]}"

    def at_dtype(self, dtype: torch.dtype) -> CheckpointContext:
        """The same checkpoint and data computed in another precision (a private copy of the net), made once."""
        if dtype == self.dtype:
            return self
        other = self.cached(f"at_{dtype}", lambda: replace(self, net=copy.deepcopy(self.net), dtype=dtype, _cache={},
                                                           ledger=CostLedger(), scored=None))
        return other if self.scored is None else other.for_items(self.scored)

    def fork(self) -> CheckpointContext:
        """The same checkpoint on a private copy of the net, sharing what is computed so far: for work on another
        thread (functional_call swaps a module's parameters in place, so threads must never share one)."""
        return replace(self, net=copy.deepcopy(self.net), _cache=dict(self._cache), ledger=self.ledger.copy())

    def cached(self, key: str, compute: Callable):
        """compute() the first time `key` is asked for at this checkpoint, then the stored result (shared by methods)."""
        if key not in self._cache:
            self._cache[key] = self.ledger.compute(key, compute)
        else:
            self.ledger.use(key)
        return self._cache[key]

    @property
    def channels_last(self) -> bool:
        """LOO models of the paper's CNNs train in NHWC layout on CPU (faster there; see LoopTrainer)."""
        return nhwc.applies(self.net, self.device)

    @property
    def trains_as_it_evaluates(self) -> bool:
        """No dropout or batch norm: a training step's gradient is the eval-mode gradient (LOO shares its first step)."""
        random_or_batch = (torch.nn.Dropout, torch.nn.modules.batchnorm._BatchNorm)
        return not any(isinstance(m, random_or_batch) for m in self.net.modules())

    @property
    def workers(self) -> int:
        return default_workers(self.device)

    def train_gradients(self) -> GradientMatrix:
        """∇θ L(z_j) for every train item (each item's own mean loss), rank-one blocks factored."""
        return self.cached("train_gradients", lambda: per_sample_gradients(
            self.net, self.params, self.train.x, self.train.y, workers=self.workers, loss=self.loss))

    def scored_gradients(self) -> GradientMatrix:
        """∇θ L(z_j) for every scored item (the train gradients unless other items are scored)."""
        if self.scored is None:
            return self.train_gradients()
        return self.cached(self.row_key("scored_gradients"), lambda: per_sample_gradients(
            self.net, self.params, self.scored.x, self.scored.y, workers=self.workers, loss=self.loss))

    def scored_grads(self) -> torch.Tensor:
        """[n_scored, P]: the scored items' gradients as a dense matrix."""
        if self.scored is None:
            return self.train_grads()
        return self.cached(self.row_key("scored_grads"), lambda: self.scored_gradients().rows())

    def test_gradients(self) -> GradientMatrix:
        """∇θ L(z) for every test item, rank-one blocks factored (GD, GC and IF scores never form them)."""
        return self.cached("test_gradients", lambda: per_sample_gradients(
            self.net, self.params, self.test.x, self.test.y, workers=self.workers, loss=self.measurement))

    def train_grads(self) -> torch.Tensor:
        """[n_train, P]: the train gradients as a dense matrix."""
        return self.cached("train_grads", lambda: self.train_gradients().rows())

    def test_grads(self) -> torch.Tensor:
        """[n_test, P]: the test gradients as a dense matrix (formed only when a method needs it)."""
        return self.cached("test_grads", lambda: self.test_gradients().rows())

    def gradient_products(self) -> torch.Tensor:
        """[n_scored, n_test]: ∇θ L(z_j) · ∇θ L(z), computed once and shared by GD, GC and TracIn."""
        return self.cached(self.row_key("gradient_products"),
                           lambda: self.test_gradients().gram(self.scored_gradients()))

    def test_losses(self) -> torch.Tensor:
        """[n_test]: per-item test loss at θ_t (evaluated as the retrained models are: same rounding)."""
        return self.cached("test_losses", lambda: self.test_losses_of([self.params], stacked=False, workers=1)[0])

    def test_losses_of(self, models: list[Params], stacked: bool, workers: int | None = None) -> torch.Tensor:
        """[k, n_test]: the measurement on every test item under k parameter sets of this net."""
        return losses_of_models(self.net, models, self.test.x, self.test.y, stacked=stacked,
                                workers=self.workers if workers is None else workers, loss=self.measurement)
