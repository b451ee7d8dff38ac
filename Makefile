# bayestda: set-up, the main job, tests and benchmarks. Needs only Python 3.11 and the package registries.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
EXPERIMENT ?= cnn_mnist3_10pc

.PHONY: setup reproduce quick study test test-fast test-slurm bench bench-cells lint clean

setup: $(VENV)/.installed

# the pinned requirements, then this package itself (editable: scripts import it, no sys.path edits)
$(VENV)/.installed: req.txt req-dev.txt req-nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r req-dev.txt
	$(PY) -m pip install --quiet --no-deps -r req-nodeps.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# data, training (10 seeds), all TDA methods, p-values, correlations, summary for one experiment
# cnn_mnist3_10pc_r1: a fresh training subset, R = 1 (run_subset_generation.py --subset-seed)
SUBSET_SEED = $(strip $(patsubst r%,%,$(word 4,$(subst _, ,$(EXPERIMENT)))))

reproduce: setup
	$(PY) run_subset_generation.py --task $(word 2,$(subst _, ,$(EXPERIMENT))) $(if $(SUBSET_SEED),--subset-seed $(SUBSET_SEED))
	$(PY) run_reproduce.py --experiment $(EXPERIMENT)

# a first look in about 3 minutes: the `quick` slice of cnn_mnist3_10pc (its first 3 seeds x last 2 checkpoints, the
# paper's six methods, the LOO truth, both controls, LDS on 10 halves under 2 seeds), in results/cnn_mnist3_10pc_quick/
quick: setup
	$(PY) run_subset_generation.py --task mnist3
	$(PY) run_reproduce.py --experiment cnn_mnist3_10pc_quick --lds-subsets 10 --lds-models 2

# a named set of experiments, read side by side in results/study_$(STUDY)/ (run_study.py --help)
STUDY ?= fragility
study: setup
	$(PY) run_study.py --study $(STUDY)

# two workers (pytest-xdist), one thread each: tests/conftest.py
test: setup
	$(PY) -m pytest -q -n 2

# the inner loop: every test not marked slow (no subprocess scripts, launchers or many-seed runs), under 2 minutes
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: setup  # needs seed 446 of cnn_mnist3_10pc (trained here if missing)
	$(PY) run_subset_generation.py --task mnist3
	$(PY) run_cnn_training.py --task mnist3 --num_per_class 10 --seed_id 0
	$(PY) benchmarks/bench_tda.py
	$(PY) benchmarks/bench_methods.py
	$(PY) benchmarks/bench_reproduce_parts.py

# what one cell of the paper's grid costs here (about 5 minutes; the numbers behind run_study.py's estimates)
bench-cells: setup
	$(PY) benchmarks/bench_cell_cost.py --experiment cnn_mnist3_10pc
	$(PY) benchmarks/bench_cell_cost.py --experiment cnn_cifar10_10pc

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf models tda_scores results data/*/*.pt

# the SLURM launcher against a real single-node SLURM started on this machine (root; Debian slurm-wlm + munge)
test-slurm: setup
	bash tests/slurm/start_slurm.sh
	$(PY) -m pytest -q tests/entry/test_slurm.py
