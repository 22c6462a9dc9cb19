# Node equivalents of the spec's targets; see README.md.
SHELL := /bin/bash
NPM ?= npm

.PHONY: install build run dev watch pre-commit test lint format typecheck docker-up docker-down clean

install: ## Install dependencies and build the server (and the web client when present)
	$(NPM) ci --no-audit --no-fund
	@if [ -f web/package.json ]; then $(NPM) ci --prefix web --no-audit --no-fund && $(NPM) run build --prefix web; fi
	$(NPM) run build

build:
	$(NPM) run build

run: build ## Run the server in the foreground on the embedded defaults
	node dist/server.js

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

lint: ## Biome (lint + format check) and the TypeScript type-check
	npx biome check .
	npx tsc -p tsconfig.json --noEmit

typecheck:
	npx tsc -p tsconfig.json --noEmit

format:
	npx biome check --write .

docker-up:
	docker compose up -d --build

docker-down:
	docker compose down

clean:
	rm -rf dist web/dist
