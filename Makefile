# Two commands on a fresh machine with Python 3.11/3.12 and a C compiler:
#   make demo   - create .venv, install, route examples/tickets.jsonl with the shipped rules and model
#   make test   - install with test extras and run the whole test suite
#   make bench  - run benchmarks/ and write benchmarks/RESULTS.md (BENCH_ARGS=--quick for a short run)
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do $$p -c "import sys; sys.exit(not (3,11) <= sys.version_info[:2] < (3,13))" >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test model bench check clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; v=sys.version_info[:2]; sys.exit(0 if (3,11)<=v<(3,13) else "triage needs Python 3.11 or 3.12 (durable_rules does not import on 3.13); found %d.%d" % v)'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/triage info
	$(BIN)/triage route examples/tickets.jsonl --format table

test: $(STAMP)
	$(BIN)/python -m pytest

# SOURCE_DATE_EPOCH: the manifest's `created` is the corpus's last commit, so two builds
# of one checkout are byte-identical.
model: $(STAMP)
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct -- models/corpus 2>/dev/null || echo 0) \
	$(BIN)/python -m triage.model.build_default

check: $(STAMP)
	$(BIN)/triage check rules
	$(BIN)/triage test rules --coverage --fail-under 100

# zen-engine (the `bench` extra) is only a comparison point: if it does not install, the
# benchmarks run without it and say so.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]' || echo "zen-engine did not install: benchmarks run without it"
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
