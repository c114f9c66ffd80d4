# Two commands on a fresh Debian/Ubuntu machine: `make demo` and `make test`.
# Both install what is missing and skip what is done.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0
# Chromium prints the PDF reports (and drives the browser tests).
# gettext: msgfmt compiles the participant pages' translations (studies/locale).
RUNTIME_APT := libfluidsynth3 fluid-soundfont-gm chromium gettext
# PostgreSQL: `make test` runs the database-facing tests on a throwaway cluster too.
TEST_APT := $(RUNTIME_APT) postgresql
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install install-test lint serve clean bench messages

install: $(VENV)/.installed
	@scripts/ensure-apt-packages $(RUNTIME_APT)
	@$(MAKE) --no-print-directory messages

install-test: $(VENV)/.installed
	@scripts/ensure-apt-packages $(TEST_APT)
	@$(MAKE) --no-print-directory messages

# The participant pages' catalogues, compiled when their .po changed.
MESSAGES := $(patsubst %.po,%.mo,$(wildcard studies/locale/*/LC_MESSAGES/django.po))
messages: $(MESSAGES)
%.mo: %.po
	msgfmt --check --output-file=$@ $<

# The stamp depends on pyproject.toml, so a changed dependency list reinstalls.
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$(TORCH_VERSION)')" 2>/dev/null \
		|| $(BIN)/pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

test: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python manage.py makemigrations --check --dry-run
	scripts/test-both-engines

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py create_study --from studies/demo_study.toml --open --replace-if-unheard --base-url http://$(HOST):$(PORT)
	$(BIN)/python manage.py simulate_answers demo --listeners 40 --top-up \
		--effect deepj-bach=0.4 --effect deepj-monteverdi=0.2 --effect markov=-0.8 \
		--effect melody-rnn-basic=0.1 --effect melody-rnn-basic-early=-0.5 \
		--effect melody-rnn-attention=0.2 --effect melody-rnn-attention-early=-0.3 \
		--effect note-tuple=-0.6
	@echo "earshot is serving on http://$(HOST):$(PORT)/  (Ctrl-C stops the site and the job worker)"
	@# The link last, where nobody has to scroll back for it.
	@$(BIN)/python manage.py study_link demo --base-url http://$(HOST):$(PORT)
	@# The trap clears itself first: kill 0 signals this shell too, and a TERM trap that
	@# re-runs kill 0 recurses until bash crashes (it printed "Segmentation fault" on Ctrl-C).
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
		$(BIN)/python manage.py run_worker --verbosity 0 & \
		$(BIN)/python manage.py runserver --noreload $(HOST):$(PORT)

# The site for real participants: gunicorn (several workers), DEBUG off, the job worker
# beside it. Settings come from the environment (see README, "Running a real study").
serve: install
	$(BIN)/python manage.py migrate --noinput
	EARSHOT_PRODUCTION=true $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "earshot (production server) on http://$(HOST):$(PORT)/  (Ctrl-C stops it and the job worker)"
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; export EARSHOT_PRODUCTION=true; \
		$(BIN)/python manage.py run_worker & \
		EARSHOT_BIND=$(HOST):$(PORT) $(BIN)/gunicorn -c config/gunicorn.conf.py config.wsgi

bench: install
	@scripts/ensure-apt-packages fluidsynth
	$(BIN)/python benchmarks/import_corpus.py
	$(BIN)/python benchmarks/render_throughput.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/polyphonic_generation.py
	$(BIN)/python benchmarks/study_assignment.py
	$(BIN)/python benchmarks/report_speed.py
	$(BIN)/python benchmarks/report_speed.py --clips 200 --no-baseline
	$(BIN)/python benchmarks/report_cache.py
	$(BIN)/python benchmarks/metrics_speed.py
	$(BIN)/python benchmarks/inference_calibration.py
	$(BIN)/python benchmarks/mixed_model_speed.py
	@scripts/ensure-apt-packages postgresql
	$(BIN)/python benchmarks/participant_burst.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
