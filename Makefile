# dynomite-go. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
export CGO_ENABLED ?= 0
FUZZTIME ?= 30s
BIN := bin/dynomite

.PHONY: help build test test-unit test-race bench bench-go fuzz lint tidy-check run run-memcache run-cluster clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/dynomite (static, CGO_ENABLED=0)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/dynomite

test: lint ## everything: lint, unit + integration tests with -race (both modules), fuzz smoke, Go benchmarks once, compose files (compose-check), containers (test-containers), terraform (tf-check)
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory test-module
	$(MAKE) --no-print-directory fuzz FUZZTIME=2000x
	CGO_ENABLED=1 $(GO) test -run '^$$' -bench . -benchtime 1x ./... > /dev/null
	$(MAKE) --no-print-directory compose-check
	$(MAKE) --no-print-directory test-containers
	$(MAKE) --no-print-directory tf-check

bench: build ## proxy vs twemproxy vs direct Redis/Memcached (redis-benchmark, memaslap); prints the table. BASELINE=[label=]path,... adds other dynomite binaries to the same runs, e.g. make bench BASELINE=prev=$(scripts/build-at.sh HEAD~1 /tmp/dyn-prev)
	scripts/bench.sh

bench-go: ## Go benchmarks of the parsers, ring and request path (allocations)
	$(GO) test -run '^$$' -bench . -benchmem ./proxy/...

fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

# staticcheck at a pinned version, built from the Go module proxy on first use
# and cached by the Go build cache afterwards.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: ## gofmt, go vet and staticcheck (dynomite, tests/, itest/ and testcontainers/dynomite modules), package dependency rules, no test-only module in go.mod, Markdown links inside the repository
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd tests && $(GO) vet ./...
	scripts/depcheck.sh
	scripts/linkcheck.sh
	$(STATICCHECK) ./...
	cd tests && $(STATICCHECK) ./...
	cd itest && $(STATICCHECK) ./...
	cd testcontainers/dynomite && $(GO) vet ./... && $(STATICCHECK) ./...

tidy-check: ## fail when go.mod/go.sum of the dynomite, tests/ or testcontainers/dynomite module are not tidy
	$(GO) mod tidy && git diff --exit-code go.mod go.sum
	cd tests && $(GO) mod tidy && git diff --exit-code go.mod go.sum
	cd testcontainers/dynomite && $(GO) mod tidy && git diff --exit-code go.mod go.sum

# The tests whose dependencies (PromQL parser, Grafana's schema, HCL,
# go-redis) the dynomite module must not require: a module of their own
# (tests/README.md), run with -race as part of make test.
.PHONY: test-module
test-module: ## the tests/ module with -race: grafana/, terraform/ and compose/ checks, go-redis end to end
	cd tests && CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m ./...

run: build ## one node in front of a local redis-server (ports 8102 client, 22122 redis, 22222 stats)
	scripts/run-single.sh redis

run-memcache: build ## one node in front of a local memcached
	scripts/run-single.sh memcache

run-cluster: build ## three racks of processes: 3 redis-server + 3 nodes (clients on 8102, 8112, 8122)
	scripts/run-cluster.sh

clean: ## remove build outputs
	rm -rf bin dist

.PHONY: release
release: ## static binaries for linux/amd64 and linux/arm64 (version from git describe) into dist/ with SHA256SUMS; checks -V and the ELF machine of each
	VERSION=$(VERSION) scripts/release.sh

# Containers: local images without a registry, local clusters (compose/README.md).
COMPOSE_FILE ?= compose/docker-compose.yml

.PHONY: images image up down compose-check

# IMAGES=local builds every image here without a registry (needs Go and
# mmdebstrap, root, a Debian mirror); IMAGES=public builds the dynomite
# image with its golang builder and uses the public Redis, Memcached and
# Prometheus images (needs only Docker and a registry). Default: local
# where go and mmdebstrap are installed, public otherwise.
IMAGES ?= $(if $(and $(shell command -v $(GO) 2>/dev/null),$(shell command -v mmdebstrap 2>/dev/null)),local,public)
PUBLIC_REDIS_IMAGE ?= redis:7.0
PUBLIC_MEMCACHED_IMAGE ?= memcached:1.6
PUBLIC_PROMETHEUS_IMAGE ?= prom/prometheus:v2.42.0
export PUBLIC_REDIS_IMAGE PUBLIC_MEMCACHED_IMAGE PUBLIC_PROMETHEUS_IMAGE

images: ## build the local images (Debian base with mmdebstrap, redis, memcached, prometheus, dns, builder, dynomite from the multi-stage Dockerfile); FORCE=1 rebuilds
	VERSION=$(VERSION) scripts/images.sh all

image: ## build the dynomite image (dynomite-local/dynomite) with the multi-stage Dockerfile and the local builder image
	VERSION=$(VERSION) scripts/images.sh dynomite

up: ## start a cluster (COMPOSE_FILE, default: 3 racks of Redis; refuses when its ports are taken) and wait until every node is ready; IMAGES=local|public picks the images (see above)
ifeq ($(IMAGES),public)
	VERSION=$(VERSION) scripts/images.sh public
	REDIS_IMAGE=$(PUBLIC_REDIS_IMAGE) MEMCACHED_IMAGE=$(PUBLIC_MEMCACHED_IMAGE) PROMETHEUS_IMAGE=$(PUBLIC_PROMETHEUS_IMAGE) \
	  compose/cluster.sh up $(COMPOSE_FILE)
else
	$(MAKE) --no-print-directory images
	compose/cluster.sh up $(COMPOSE_FILE)
endif

down: ## remove every local cluster of compose/: containers, networks, volumes
	compose/cluster.sh down

compose-check: ## check every compose file: docker-compose config -q, and the compose-go test (itest/composefiles; no daemon needed)
	compose/cluster.sh check
	cd itest && CGO_ENABLED=1 $(GO) test -race -count=1 ./composefiles/

.PHONY: tf-check tf-validate

tf-check: ## terraform fmt -check, tflint, Go test of terraform/ (tests/terraform; builds terraform 1.5.7 and tflint once)
	scripts/tf-tools.sh check

tf-validate: ## terraform init + validate of terraform/ with a locally built AWS provider (20-30 min once)
	scripts/tf-tools.sh validate

# Integration suites in containers (itest/README.md), a Go module of their own.
.PHONY: itest itest-suites test-containers tc-module

itest: ## integration suites with testcontainers-go (itest/): replication, node loss, partition, rolling restart, hints, repair, warm-up, discovery, scale out and in; and the testcontainers module's tests
	@if $${DOCKER:-docker} info >/dev/null 2>&1; then $(MAKE) --no-print-directory images; \
	else echo "itest: no Docker daemon answers: images not built; the suites skip (they fail under CI=true)"; fi
	$(MAKE) --no-print-directory tc-module
	$(MAKE) --no-print-directory itest-suites

# The testcontainers module (testcontainers/dynomite), a Go module of its
# own: option and wait tests always, the cluster tests and the Example with
# a Docker daemon and the local images (skipped without a daemon, failed
# under CI=true).
tc-module: ## the testcontainers module's tests with -race (its Example starts a 3-rack cluster)
	cd testcontainers/dynomite && CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m ./...

itest-suites: ## the itest suites with the images as they are (make itest builds them first)
	cd itest && CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 25m -v .

test-containers: ## with a Docker daemon: images, the testcontainers module's tests, the compose check (make up, a write in every rack, make down), the itest suites; skips without one (fails under CI=true)
	@if ! $${DOCKER:-docker} info >/dev/null 2>&1; then \
	  if [ "$${CI:-}" = true ]; then echo "test-containers: FAIL: no Docker daemon answers (CI=true)" >&2; exit 1; fi; \
	  echo "test-containers: SKIP: no Docker daemon answers; the compose check and the itest suites need one" >&2; \
	  $(MAKE) --no-print-directory tc-module; exit $$?; \
	fi
	$(MAKE) --no-print-directory images
	$(MAKE) --no-print-directory tc-module
	compose/ci-check.sh
	$(MAKE) --no-print-directory itest-suites
