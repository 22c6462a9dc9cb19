# Node equivalents of the spec's targets; see README.md.
SHELL := /bin/bash
NPM ?= npm

.PHONY: install build run dev watch pre-commit test e2e lint format typecheck docker-up docker-down compose-check dockerfile-check cluster cluster-test clean

install: ## Install dependencies and build the server (and the web client when present)
	$(NPM) ci --no-audit --no-fund
	@if [ -f web/package.json ]; then $(NPM) ci --prefix web --no-audit --no-fund && $(NPM) run build --prefix web; fi
	$(NPM) run build

build:
	$(NPM) run build

run: build ## Run the server in the foreground on the embedded defaults
	bin/messenger-server

dev: ## Install everything a developer needs (dependencies, dev tools, git hook)
	$(NPM) install --no-audit --no-fund
	@if [ -f web/package.json ]; then $(NPM) install --prefix web --no-audit --no-fund; fi
	$(MAKE) pre-commit

watch: ## Run the server from source, restarting on changes
	$(NPM) run dev

pre-commit: ## Install the git pre-commit hook (lint and type-check)
	git config core.hooksPath .githooks

test: ## Run every test suite (embedded database and, when reachable, PostgreSQL and Redis)
	npx vitest run $(VITEST_ARGS)

e2e: ## Only the browser end-to-end suite (needs /usr/bin/chromium and a built web/dist)
	npx vitest run --project e2e $(VITEST_ARGS)

lint: ## Biome (lint + format check) and the TypeScript type-check
	npx biome check .
	npx tsc -p tsconfig.json --noEmit

typecheck:
	npx tsc -p tsconfig.json --noEmit

format:
	npx biome check --write .

# Docker Compose v2 (`docker compose`) where present, else the standalone docker-compose.
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

docker-up: .env ## Build and start the production-shaped stack (needs a Docker engine)
	$(COMPOSE) up -d --build

docker-down: ## Stop the stack (volumes are kept)
	$(COMPOSE) down

.env: ## Secrets for the compose stack, generated once
	@umask 077 && { \
	  echo "JWT_SECRET=$$(node -e 'console.log(require("crypto").randomBytes(48).toString("base64url"))')"; \
	  echo "POSTGRES_PASSWORD=$$(node -e 'console.log(require("crypto").randomBytes(18).toString("hex"))')"; \
	  echo "MINIO_ROOT_PASSWORD=$$(node -e 'console.log(require("crypto").randomBytes(18).toString("hex"))')"; \
	} > .env && echo "wrote .env with generated secrets"

compose-check: ## Validate docker-compose.yml with a real compose implementation
	JWT_SECRET=validation-only-secret-0123456789abcdef $(COMPOSE) -f docker-compose.yml config -q

.PHONY: bench
bench: ## Benchmarks: the service (PostgreSQL + Redis) against a bare ws relay; BENCH_PROFILE=quick|full; writes bench/results/
	$(NPM) run build
	npx tsc -p bench/tsconfig.json
	node bench/.out/run.js

dockerfile-check: ## Lint the Dockerfile: hadolint when installed, and the structural check always
	@if command -v hadolint >/dev/null 2>&1; then hadolint Dockerfile; else echo "hadolint not installed (not in Debian 12): structural check only"; fi
	npx tsx scripts/check-dockerfile.ts

# The compose topology without containers: two nodes on loopback against the local
# PostgreSQL (a fresh database) and Redis, behind Debian's nginx with deploy/nginx.conf.
cluster: ## Run two nodes behind nginx on http://127.0.0.1:$${CLUSTER_PORT:-8080} (Ctrl-C stops)
	npx tsx scripts/cluster.ts

cluster-test: ## The cluster test alone: REST and WebSocket through nginx, a node killed mid-stream
	npx vitest run --project postgres test/cluster.pg.test.ts

clean:
	rm -rf dist web/dist
