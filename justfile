# yiwang tasks. Run `just` to list them.
set shell := ["bash", "-euo", "pipefail", "-c"]

bin := justfile_directory() / ".venv/bin"

default:
    @just --list

# start a local federation: NATS, county hub, a township node and two village nodes
demo *args:
    @{{bin}}/yiwang demo {{args}}

# run the whole test suite after the lint gates, a worker per core, a file's tests on one worker (installs Debian's chromium for the browser tests if missing)
test *args: lint chromium
    @{{bin}}/pytest --numprocesses auto --dist loadfile {{args}}

# the gates every commit passes: ruff (lint and format), mypy, the package import rules
lint:
    @{{bin}}/ruff check --quiet .
    @{{bin}}/ruff format --check --quiet .
    @{{bin}}/mypy
    @{{bin}}/lint-imports --no-cache

# only the fast tests: no processes, no browser
test-fast *args:
    @{{bin}}/pytest -m "not e2e and not browser" {{args}}

# the long chaos soak: NATS, hub, 10 nodes (every third on a slow link), 30 minutes of workload and faults (see python -m tests.chaos --help)
soak *args: chromium
    @{{bin}}/python -m tests.chaos {{args}}

# install Debian's chromium, a CJK font and faketime if missing
chromium:
    @scripts/ensure-chromium

# run the benchmarks and print figures beside their same-run baselines
bench *args:
    @{{bin}}/python -m bench {{args}}
