# vets — the two commands: `make run` and `make test`. Everything else is a step of those.
BUILD      ?= build
ASAN_BUILD ?= build-asan
DATA       ?= var/demo
LISTEN     ?= 127.0.0.1:8080
JOBS       ?= 2

.PHONY: run test deps build web asan test-unit test-api test-asan bench bench-pg fuzz clean

run: deps build web
	@if [ ! -f $(DATA)/vets.db ]; then mkdir -p $(dir $(DATA)) && ./$(BUILD)/vets init --data $(DATA) --demo; fi
	@echo ""
	@echo "  vets 地址：http://$(LISTEN)/"
	@echo "  演示账户（用户名 密码 角色 服务站）："
	@grep -v '^#' $(DATA)/demo-accounts.txt | sed 's/^/    /'
	@echo "  三员账户初始密码见 $(DATA)/initial-accounts.txt（首次登录须修改）"
	@echo ""
	./$(BUILD)/vets serve --data $(DATA) --listen $(LISTEN)

deps:
	@scripts/setup.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) -- --no-print-directory -s

web:
	@if [ -f web/package.json ]; then cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent; fi

asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVETS_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS) -- --no-print-directory -s

# The whole suite: unit + API + browser tests on the normal build, then unit +
# API tests again under AddressSanitizer and UBSan.
test: deps build web asan
	cd $(BUILD) && ctest --output-on-failure -j1 --timeout 900
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j1 -L 'unit|api' --timeout 900
	scripts/setup.sh --fuzz
	tests/fuzz/run.sh 10

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

test-api: build
	cd $(BUILD) && ctest --output-on-failure -L api

bench: deps build
	@scripts/setup.sh --bench
	bench/run.sh $(if $(QUICK),--quick,)

# The same HTTP scenarios on PostgreSQL (throw-away cluster), one node and two behind nginx.
bench-pg: deps build
	@scripts/setup.sh --bench
	bench/pg.sh $(if $(QUICK),--quick,)

fuzz:
	@scripts/setup.sh --fuzz
	tests/fuzz/run.sh $(or $(SECONDS_EACH),60)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) web/dist
