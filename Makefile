# The README's two commands: `make demo` (the main job) and `make test` (the CI suite).
# Both create their own virtual environments and install from the package registries.

PYTHON ?= python3
VENV ?= .venv
VENV_LOWEST ?= .venv-lowest
# The docs and release tools (MkDocs, build, twine), pinned in ci/requirements-tools.txt; no Airflow.
VENV_TOOLS ?= .venv-tools
# Latest Airflow 3.3.x, and the lowest Airflow the package declares (pinned with a constraints file,
# because Airflow 3.1.0 predates some of today's transitive releases).
AIRFLOW_LATEST ?= apache-airflow~=3.3.0
AIRFLOW_LOWEST ?= apache-airflow==3.1.0
LOWEST_CONSTRAINTS ?= ci/constraints-airflow-3.1.0.txt
SCALE_CONSTRAINTS ?= ci/constraints-scale.txt
PYTEST_ARGS ?=

.PHONY: demo test services test-latest test-lowest lint docs release-check bench bench-surge clean check-fixtures sync-fixtures \
	real-server real-server-down real-server-background recapture-recordings

demo: $(VENV)/.installed
	$(VENV)/bin/python scripts/demo.py

# The two Airflow versions run side by side (-j2; -O keeps each one's output together): most of a suite's
# time is spent waiting on Airflow processes and servers, so the whole run fits CI's time on 2 cores. The
# release check takes the first free slot (it mostly waits on pip and Airflow's CLI). The real Attendee server
# of tests/system starts coming up first, in the background, so that its few minutes overlap the lint, docs
# and virtualenv steps; both suites then share it (their fixture waits on its lock), and it is stopped at the
# end (its virtualenv and database are kept for the next run).
test: services real-server-background lint docs
	@status=0; $(MAKE) -j2 -O test-latest test-lowest release-check || status=$$?; \
	$(PYTHON) scripts/attendee_server.py down || true; exit $$status

# PostgreSQL and Redis (Debian packages) for the Celery deployment test; installed when running as root.
services:
	bash scripts/install-services.sh

# The real Attendee server (its source from ../shared/attendee-server or ATTENDEE_SERVER_SOURCE) for the system
# tests: `make real-server` brings it up in the foreground and prints its URL, key and environment; without a
# source the system tests skip, saying why. After `services`: both may install Debian packages.
REAL_SERVER_LOG ?= .attendee-server/bring-up.log
real-server: services
	$(PYTHON) scripts/attendee_server.py up
	$(PYTHON) scripts/attendee_server.py env

real-server-down:
	$(PYTHON) scripts/attendee_server.py down

real-server-background: services
	@mkdir -p $(dir $(REAL_SERVER_LOG))
	@echo "Bringing up the real Attendee server in the background (log: $(REAL_SERVER_LOG))"
	@nohup $(PYTHON) scripts/attendee_server.py up > $(REAL_SERVER_LOG) 2>&1 < /dev/null &

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The docs site (site/): a strict build (any warning fails), then every internal link and anchor of the HTML.
docs: $(VENV_TOOLS)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV_TOOLS)/bin/mkdocs build --strict --quiet
	$(VENV_TOOLS)/bin/python scripts/check_links.py site

# The sdist and the wheel (.release/dist/), checked, and the wheel installed into a fresh virtualenv with
# Airflow at the test environment's versions: airflow providers list/hooks, plugins, the example DAGs.
release-check: $(VENV_TOOLS)/.installed $(VENV)/.installed
	$(VENV_TOOLS)/bin/python scripts/check_release.py --constraints-from $(VENV)/bin/python

# Each suite has its own temporary folder and no cache, so that the two can run at once.
test-latest: $(VENV)/.installed
	mkdir -p .pytest-tmp
	$(VENV)/bin/python -m pytest -p no:cacheprovider --durations=40 --basetemp=$(CURDIR)/.pytest-tmp/latest $(PYTEST_ARGS)

test-lowest: $(VENV_LOWEST)/.installed
	$(VENV_LOWEST)/bin/mypy
	mkdir -p .pytest-tmp
	$(VENV_LOWEST)/bin/python -m pytest -p no:cacheprovider --durations=40 --basetemp=$(CURDIR)/.pytest-tmp/lowest $(PYTEST_ARGS)

# The tests' copies of ../shared (tests/fixtures/attendee) must equal their source when it is there.
SHARED ?= ../shared
FIXTURES ?= tests/fixtures/attendee
check-fixtures:
	diff -r -x NOTICE.md -x seeds $(SHARED)/attendee-api $(FIXTURES)
	diff -r $(SHARED)/seeds $(FIXTURES)/seeds
	@echo "tests/fixtures/attendee matches $(SHARED)"

sync-fixtures:
	cp -r $(SHARED)/attendee-api/. $(FIXTURES)/
	cp -r $(SHARED)/seeds/. $(FIXTURES)/seeds/

# The conformance recordings played again on the real Attendee server (brought up, or reused, by the script), each
# in a fresh project, into tests/fixtures/recaptured/ (tests/conformance/test_recaptured.py compares them with
# the originals and replays them on the simulator). RECAPTURE=lifecycle.json ... recaptures only those.
RECAPTURE ?=
recapture-recordings: $(VENV)/.installed
	$(VENV)/bin/python scripts/recapture_recordings.py $(RECAPTURE)

bench: $(VENV)/.installed
	$(VENV)/bin/python -m bench

# The top-of-the-hour surge (bench/surge.py): PostgreSQL, two API-server workers, Celery; push and poll, idle
# and with 2 CPU burners; 600 meetings. Long (about half an hour), so not part of `make bench`.
bench-surge: services $(VENV)/.installed
	$(VENV)/bin/python -m bench.surge

$(VENV)/.installed: pyproject.toml $(SCALE_CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c $(SCALE_CONSTRAINTS) -e ".[test,lint,report,scale,notes]" "$(AIRFLOW_LATEST)"
	touch $@

$(VENV_TOOLS)/.installed: ci/requirements-tools.txt
	$(PYTHON) -m venv $(VENV_TOOLS)
	$(VENV_TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_TOOLS)/bin/python -m pip install --quiet -r ci/requirements-tools.txt
	touch $@

# Without [notes]: common-ai 1.0 needs pydantic-ai-slim >= 2.36, so pydantic >= 2.12, and the constraints pin
# Airflow 3.1.0's pydantic 2.11.9: the notes' model-side tests skip on this suite, saying so.
$(VENV_LOWEST)/.installed: pyproject.toml $(LOWEST_CONSTRAINTS)
	$(PYTHON) -m venv $(VENV_LOWEST)
	$(VENV_LOWEST)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_LOWEST)/bin/python -m pip install --quiet -c $(LOWEST_CONSTRAINTS) -e ".[test,lint,report]" "$(AIRFLOW_LOWEST)"
	touch $@

clean:
	-$(PYTHON) scripts/attendee_server.py down
	rm -rf $(VENV) $(VENV_LOWEST) $(VENV_TOOLS) .demo .release site .pytest_cache .pytest-tmp .mypy_cache .ruff_cache \
	  .attendee-server
