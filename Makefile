# Every target installs what it needs: a fresh clone needs only python3, npm and go.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := .cache
BUF_VERSION := 1.75.0
BUF := $(CACHE)/node/node_modules/.bin/buf
GRPCURL_VERSION := v1.9.4
GRPCURL := $(CACHE)/bin/grpcurl
FERRETDB := $(CACHE)/bin/ferretdb
PROTOS := $(shell find protos -name '*.proto' | sort)

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e ./clients/python
	touch $@

.PHONY: install
install: $(BIN)/.installed ## Create .venv with the service, the Python client and the dev tools

$(BUF):
	npm install --silent --no-audit --no-fund --prefix $(CACHE)/node @bufbuild/buf@$(BUF_VERSION)

$(GRPCURL):
	GOBIN=$(abspath $(CACHE)/bin) go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

# The MongoDB-compatible server the tests run the MongoDB adapter against
# (unless MEMORIA_TEST_MONGODB_URI names a real one).
$(FERRETDB): tests/support/build_ferretdb.sh
	bash tests/support/build_ferretdb.sh $(CACHE)/bin

.PHONY: ferretdb
ferretdb: $(FERRETDB) ## Build FerretDB v1 under .cache/ for the MongoDB tests

.PHONY: tools
tools: $(BUF) $(GRPCURL) $(FERRETDB) ## Install buf, grpcurl and FerretDB under .cache/

# Python messages, gRPC stubs and .pyi type stubs for both, from protos/ into $(1), and
# memoria.binpb: the contract's descriptors with their comments, for server reflection.
define protoc
	rm -rf $(1)/memoria && mkdir -p $(1)/memoria/v1
	$(BIN)/python -m grpc_tools.protoc -I protos \
		--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy \
		--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc \
		--python_out=$(1) --grpc_python_out=$(1) --mypy_out=$(1) --mypy_grpc_out=$(1) \
		--include_source_info --descriptor_set_out=$(1)/memoria/v1/memoria.binpb \
		$(PROTOS)
	touch $(1)/memoria/__init__.py $(1)/memoria/v1/__init__.py $(1)/memoria/py.typed
endef

# The Python client's own copy of the generated modules (memoria_client._proto), made from
# the output of protoc in $(1): the same proto files, imported under the client's name.
CLIENT_PROTO := clients/python/src/memoria_client/_proto
define vendor_client
	$(BIN)/python clients/python/scripts/vendor_proto.py $(1)/memoria/v1 $(2)
endef

.PHONY: generate
generate: $(BIN)/.installed ## Regenerate generated/ and the Python client's stubs from protos/
	$(call protoc,generated)
	$(call vendor_client,generated,$(CLIENT_PROTO))

.PHONY: check-generated
check-generated: $(BIN)/.installed ## Fail when generated/ or the client's stubs are stale
	$(eval TMP := $(shell mktemp -d))
	$(call protoc,$(TMP))
	$(call vendor_client,$(TMP),$(TMP)/client_proto)
	@diff -r --exclude=__pycache__ $(TMP)/memoria generated/memoria \
		&& diff -r --exclude=__pycache__ $(TMP)/client_proto $(CLIENT_PROTO) \
		|| { echo "generated code is stale: run 'make generate' and commit it"; rm -rf $(TMP); exit 1; }
	@rm -rf $(TMP)

.PHONY: lint
lint: $(BIN)/.installed $(BUF) ## buf lint, ruff, mypy
	$(BUF) lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: format
format: $(BIN)/.installed ## Format the Python code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: test
test: $(BIN)/.installed $(BUF) $(GRPCURL) $(FERRETDB) check-generated lint ## Install everything, lint, and run the tests
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: run
run: $(BIN)/.installed ## Start the server (MEMORIA_* variables are honoured)
	$(BIN)/python -m server

# A local MongoDB-wire server to try `make run` on MongoDB without installing MongoDB.
FERRETDB_DATA := var/ferretdb
.PHONY: run-ferretdb
run-ferretdb: $(FERRETDB) ## Serve FerretDB (MongoDB wire protocol) on 127.0.0.1:27017, data in var/ferretdb
	mkdir -p $(FERRETDB_DATA)
	$(FERRETDB) --handler=sqlite --sqlite-url=file:$(abspath $(FERRETDB_DATA))/ \
		--listen-addr=127.0.0.1:27017 --state-dir=$(FERRETDB_DATA) \
		--debug-addr=- --telemetry=disable --log-level=warn

.PHONY: bench
bench: $(BIN)/.installed $(FERRETDB) ## Print latency, streaming, summarizer and client-overhead figures of a live server
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.summarizer
	$(BIN)/python -m bench.streams
	$(BIN)/python -m bench.client_overhead

.PHONY: clean
clean: ## Remove the virtualenv, caches and local data
	rm -rf $(VENV) $(CACHE) var .mypy_cache .pytest_cache .ruff_cache
