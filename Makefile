# The front door: `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
RASA_VENV := .venv-rasa
PIP_QUIET := -qq  # pip's -q still prints this machine's find-links warnings
INDEX := var/index/knowledge
export HF_HUB_OFFLINE := 1
export RASA_TELEMETRY_ENABLED := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup run ask test lint format index bench-retrieval bench-embedders bench-nlu bench-routing bench-turns bench-tickets bench-emergency bench-answers bench-calibration bench-first-answer bench-handoff bench-channels screenshots lock vendor clean

help:
	@echo "make run    set everything up, build the index and train the model if stale, start the assistant"
	@echo "make test   set everything up and run the test suite"
	@echo "make lint   ruff check and format check"
	@echo "make vendor refresh the console's vendored htmx and ECharts from npm (bot/console/frontend)"
	@echo "make screenshots  refresh the console's screenshots in docs/screenshots/ (chromium, a CJK font)"
	@echo "make bench-retrieval | bench-embedders | bench-routing | bench-emergency | bench-nlu | bench-answers"
	@echo "           | bench-first-answer | bench-handoff   benchmarks (write benchmarks/results/*.md)"

setup: $(VENV)/.installed $(RASA_VENV)/.installed

# The app, the action server and index/ run on Python 3.11.
$(VENV)/.installed: pyproject.toml requirements/app.lock
	@py=$$(scripts/find-python.sh 3.11 PYTHON311) && echo "app venv: $$py" && \
	  { [ -x $(VENV)/bin/python ] || $$py -m venv $(VENV); }
	$(VENV)/bin/pip install $(PIP_QUIET) --upgrade pip
	# Exactly this spec: it takes the CPU wheel on disk; any other pulls gigabytes of CUDA.
	$(VENV)/bin/pip install $(PIP_QUIET) torch==2.13.0
	$(VENV)/bin/pip install $(PIP_QUIET) -r requirements/app.lock
	$(VENV)/bin/pip install $(PIP_QUIET) --no-deps -e .
	@touch $@

# Rasa 3.6 supports Python <= 3.10 only, so it gets its own venv from a committed lock.
$(RASA_VENV)/.installed: requirements/rasa.lock
	@py=$$(scripts/find-python.sh 3.10 PYTHON310) && echo "rasa venv: $$py" && \
	  { [ -x $(RASA_VENV)/bin/python ] || $$py -m venv $(RASA_VENV); }
	$(RASA_VENV)/bin/pip install $(PIP_QUIET) --upgrade pip
	$(RASA_VENV)/bin/pip install $(PIP_QUIET) -r requirements/rasa.lock
	$(RASA_VENV)/bin/pip check
	@touch $@

index: $(VENV)/.installed
	$(VENV)/bin/hotline index ensure --out $(INDEX) knowledge

# The assistant on embedded defaults: Rasa, the action server and the gateway on http://127.0.0.1:8000.
run: setup index
	$(VENV)/bin/hotline up --index $(INDEX)

# Answers to sample questions straight from the index, without the conversation servers.
ask: setup index
	$(VENV)/bin/hotline index ask --index $(INDEX) \
	  "孩子的出生医学证明丢了怎么补办，要带什么材料" \
	  "12320热线能做什么，可以投诉吗" \
	  "被狗咬了怎么处理" \
	  "申请政府信息公开多久给答复"

test: setup
	$(VENV)/bin/python -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench-retrieval: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/retrieval.py

bench-embedders: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/embedders.py

bench-routing: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/routing.py

bench-turns: setup index
	$(VENV)/bin/hotline nlu train
	$(VENV)/bin/python benchmarks/turns.py

# With TEST_DATABASE_URL set (scripts/start-postgres.sh prints one) PostgreSQL is measured beside SQLite.
bench-tickets: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/tickets.py

# Live handoff latency: citizen ↔ operator screens and queue changes, beside a bare WebSocket echo. With
# TEST_DATABASE_URL set PostgreSQL is measured beside SQLite.
bench-handoff: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/handoff.py

# The emergency net against its labelled sets, side by side with the detector main had before issue 9.
bench-emergency: $(VENV)/.installed
	$(VENV)/bin/python benchmarks/emergency.py

# Trains today's config and config.yml (and any --train NAME=CONFIG) with empty caches: about 25 minutes.
bench-nlu: setup index
	$(VENV)/bin/python benchmarks/nlu.py

# The gold set through the real stack; more variants side by side: ARGS="--model A=a.tar.gz --model B=b.tar.gz".
bench-answers: setup index
	$(VENV)/bin/hotline nlu train
	$(VENV)/bin/python benchmarks/answers.py $(ARGS)

# Intent calibration on the gold set with the trained model; `ARGS=--write` puts the fitted T into config.yml.
bench-calibration: setup index
	$(VENV)/bin/hotline nlu train
	$(VENV)/bin/python benchmarks/calibration.py $(ARGS)

# A clone of HEAD to its first answer (index and Rasa from empty caches; the venvs linked, not rebuilt).
bench-first-answer: setup
	$(VENV)/bin/python benchmarks/first_answer.py

bench-channels: setup index
	$(VENV)/bin/hotline nlu train
	$(VENV)/bin/python benchmarks/channels.py $(ARGS)

# Refresh requirements/app.lock from the current app venv.
lock:
	{ head -2 requirements/app.lock; $(VENV)/bin/pip freeze | grep -viE '^(torch==|-e |hotline)'; } > requirements/app.lock.new
	mv requirements/app.lock.new requirements/app.lock

# The console's front-end packages from npm into bot/console/static/vendor/ (committed: nothing needs npm at run time).
vendor:
	scripts/vendor-frontend.sh

# The console's screenshots for the README (docs/screenshots/): the tests marked `screenshots`, in chromium, with
# the real stack. Needs a CJK font (Debian: fonts-noto-cjk), or every Chinese character is a box.
screenshots: setup
	HOTLINE_SCREENSHOTS=docs/screenshots $(VENV)/bin/python -m pytest -q -m screenshots tests

clean:
	rm -rf var .pytest_cache .ruff_cache
