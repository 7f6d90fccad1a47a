# The two commands a new user needs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
# An interpreter that does not run (not on PATH, or a pyenv shim of a version not selected) is
# said in one line, with the way to point at it: its full path, found among pyenv's versions.
ifeq ($(filter clean browser,$(MAKECMDGOALS)),)
ifneq ($(shell $(PYTHON) -c 'print(1)' 2>/dev/null),1)
FOUND := $(firstword $(wildcard $(HOME)/.pyenv/versions/*/bin/$(notdir $(PYTHON))))
$(error $(PYTHON) does not run here (not on PATH, or not a selected pyenv version): give its full path, e.g. make $(or $(MAKECMDGOALS),demo) PYTHON=$(or $(FOUND),~/.pyenv/versions/X.Y.Z/bin/$(notdir $(PYTHON))))
endif
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
SOURCES := pyproject.toml plugins/new_mexico/pyproject.toml plugins/alaska/pyproject.toml

.PHONY: demo test soak browser bench fuzz clean

$(STAMP): $(SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' -e plugins/new_mexico -e plugins/alaska
	touch $(STAMP)

demo: $(STAMP)  ## check the example data set and print the report
	@$(BIN)/mentorrules validate examples/ || [ $$? -eq 1 ]

# The packs' YAML rule cases run once, inside pytest (tests/loading/test_rule_files.py), which
# also lints the packs from that run; the suite runs on every core (pytest-xdist).
test: $(STAMP) browser  ## lint, type-check, then the test suite with the rule cases
	$(BIN)/ruff check src tests plugins bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider -n auto

soak: $(STAMP)  ## soak tests: thousands of sessions, long runs (minutes; not part of `make test`)
	MENTORRULES_SLOW=1 $(BIN)/python -m pytest -q -p no:cacheprovider -m slow

# The HTML report test drives a real headless Chromium; install it when we can (root, apt), and
# let that test skip when we cannot. Never fails.
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	    >/dev/null 2>&1 || echo "chromium not installed: the browser test of the HTML report will be skipped"; }

bench: $(STAMP)  ## records per second and peak memory (prints figures; never fails on speed)
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/prepared.py

# The suite fuzzes 10,000 examples; `make fuzz` 200,000 (about 20 minutes), then, when atheris
# installs, ATHERIS_RUNS coverage-guided inputs seeded with the packs' files (tests/properties/atheris_fuzz.py).
FUZZ_EXAMPLES ?= 200000
ATHERIS_RUNS ?= 100000
fuzz: $(STAMP)  ## long fuzzing run of the rule loader and expression compiler
	MENTORRULES_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:cacheprovider tests/properties/test_fuzz.py
	@if $(BIN)/python -c 'import atheris' 2>/dev/null || $(BIN)/python -m pip install --quiet atheris; then \
	  $(BIN)/python tests/properties/atheris_fuzz.py --seeds .fuzz/corpus && \
	  $(BIN)/python tests/properties/atheris_fuzz.py -runs=$(ATHERIS_RUNS) -artifact_prefix=.fuzz/ .fuzz/corpus; \
	else echo "atheris could not be installed: the coverage-guided run is skipped"; fi

clean:
	rm -rf $(VENV) build dist src/*.egg-info plugins/*/src/*.egg-info
