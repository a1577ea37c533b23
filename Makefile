# Two commands for a newcomer: `make run` (the product, on SQLite, publishing to a local outbox)
# and `make test` (the whole suite on SQLite, then again on PostgreSQL when it answers).

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench loadtest clean

.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || { echo "Installing uv with pip..."; $(PYTHON) -m pip install --quiet uv; }
	$(UV) sync --locked
	@touch $@

run: .venv/.synced
	$(RUN) python manage.py migrate --noinput
	$(RUN) python manage.py create_face_key
	$(RUN) python manage.py seed_demo --address http://$(HOST):$(PORT)
	@# The worker analyses uploads beside the web server; it stops with it.
	SITE_ADDRESS=http://$(HOST):$(PORT) DJANGO_DEBUG=1 $(RUN) python manage.py run_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	SITE_ADDRESS=http://$(HOST):$(PORT) DJANGO_DEBUG=1 $(RUN) python manage.py runserver $(HOST):$(PORT)

test: .venv/.synced
	@rm -rf test-results && mkdir -p test-results
	env -u DATABASE_URL $(RUN) pytest --junitxml=test-results/sqlite.xml
	@url="$$($(RUN) python -m tests.postgres_url)"; \
	if [ -n "$$url" ]; then \
		echo "== The same suite on PostgreSQL =="; \
		DATABASE_URL="$$url" $(RUN) pytest --junitxml=test-results/postgresql.xml; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL did not answer on 127.0.0.1:5432 (or at DATABASE_URL): under CI the PostgreSQL run is required."; exit 1; \
	else \
		echo "PostgreSQL did not answer on 127.0.0.1:5432 (or at DATABASE_URL): the PostgreSQL run was skipped."; \
	fi

bench: .venv/.synced
	$(RUN) python manage.py bench
	$(RUN) python manage.py bench_text
	$(RUN) python manage.py bench_connectors
	$(RUN) python manage.py bench_worker
	$(RUN) python manage.py bench_tenancy
	$(RUN) python manage.py bench_files
	@# Worker processes share a database only on PostgreSQL; there the wall between schools is measured too.
	@url="$$($(RUN) python -m tests.postgres_url)"; \
	if [ -n "$$url" ]; then DATABASE_URL="$$url" $(RUN) python manage.py bench_tenancy && DATABASE_URL="$$url" $(RUN) python manage.py bench_scale; \
	else echo "bench_scale needs PostgreSQL on 127.0.0.1:5432 (or at DATABASE_URL): left out."; fi

# The product under gunicorn with PostgreSQL: 20 staff for 60 s on 10,000 drafts (not part of make test).
loadtest: .venv/.synced
	@url="$$($(RUN) python -m tests.postgres_url)"; \
	if [ -z "$$url" ]; then echo "The load test needs PostgreSQL on 127.0.0.1:5432 (or at DATABASE_URL)."; exit 1; fi; \
	DATABASE_URL="$$url" $(RUN) python manage.py loadtest

clean:
	rm -rf .venv test-results
