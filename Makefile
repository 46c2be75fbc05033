# rig: the two commands are `make demo` and `make test`; both create .venv.
PYTHON ?= python3
# on a Raspberry Pi: make VENV_FLAGS=--system-site-packages test (the venv sees apt's python3-lgpio: no compiler)
VENV_FLAGS ?=
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# the commit run.json records (code_commit, rig/run/manifest.py), written here so a run needs no git: the
# `rig` service user running a checkout another user owns is refused by git ("dubious ownership")
BUILD_COMMIT := rig/_build_commit.txt

.PHONY: demo test bench lint test-hardware clean FORCE

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "rig needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

$(BUILD_COMMIT): FORCE
	@commit=$$(git -c safe.directory='$(CURDIR)' describe --always --dirty --abbrev=12 2>/dev/null); \
	if [ "$$commit" != "$$(cat $@ 2>/dev/null)" ]; then printf '%s\n' "$$commit" > $@; fi

demo: $(STAMP) $(BUILD_COMMIT)
	$(BIN)/rig demo

test: $(STAMP) $(BUILD_COMMIT)
	$(BIN)/python -m pytest -q

bench: $(STAMP) $(BUILD_COMMIT)
	$(BIN)/python -m pytest -q -n 0 -s -p no:randomly -o python_files='bench_*.py' tests/bench

lint: $(STAMP)
	$(BIN)/ruff check rig tests

test-hardware: $(STAMP) $(BUILD_COMMIT)
	RIG_HARDWARE=1 $(BIN)/python -m pytest -q -n 0 -m hardware tests

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache $(BUILD_COMMIT)
