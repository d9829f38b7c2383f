# rendezvous: every task is a target here. `make run` and `make test` are all a new machine needs.
SHELL := /bin/bash
.DEFAULT_GOAL := build

# clang and its runtime (libFuzzer, sanitizers) build the fuzz target that `make test` runs.
FUZZ_DEBS := clang libclang-rt-14-dev
# The Redis client's and engine's tests start their own redis-server.
TEST_DEBS := redis-server
DEBS := g++ cmake ninja-build ccache pkg-config python3 libboost-dev libabsl-dev liblmdb-dev \
        libsodium-dev zlib1g-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev libhiredis-dev
BENCH_DEBS := wrk nginx-light openssl
JOBS ?= $(shell nproc)
CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
PORT ?= 8080
# ccache: paths relative to the checkout, so a fresh clone of the same sources (CI) hits the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

# `make install`: the binary to $(PREFIX)/bin, the systemd unit to $(UNITDIR) (systemd reads
# /usr/local/lib/systemd/system too); DESTDIR stages the tree elsewhere.
PREFIX ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR ?=

.PHONY: deps test-deps build server run test test-fast fuzz bench clean format install deb release

# Installs only the Debian packages that are missing (quietly; needs root on a fresh machine).
deps:
	@missing=$$(for p in $(DEBS) $(EXTRA_DEBS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# `make test` and `make fuzz` also need clang for the fuzz tree; the packaging tests need
# systemd-analyze (systemd) and dpkg-shlibdeps (dpkg-dev); the TLS tests need the openssl command
# (a test CA, s_client) and curl; the admin tests promtool and a real Prometheus (prometheus).
PACKAGING_DEBS := systemd dpkg-dev prometheus
# The browser tests (tests/browser) drive Debian's chromium with node, and the pkarr client test
# (tests/pkarr_client) runs the pkarr package from npm; nodejs and npm come from Debian unless a
# node with npm is already installed (NodeSource's nodejs bundles npm and conflicts with Debian's
# npm package).
BROWSER_DEBS := chromium $(if $(shell command -v npm 2>/dev/null),,nodejs npm)
TLS_TEST_DEBS := openssl curl
test-deps:
	@$(MAKE) --no-print-directory deps EXTRA_DEBS="$(FUZZ_DEBS) $(TEST_DEBS) $(PACKAGING_DEBS) $(TLS_TEST_DEBS) $(BROWSER_DEBS)"

build/build.ninja:
	cmake -S . -B build $(CMAKE_FLAGS)

build: deps build/build.ninja
	ninja -C build -j $(JOBS)

# The server binary alone: `make run` and `make install` need nothing else (a cold `make build`
# also compiles every test binary).
server: deps build/build.ninja
	ninja -C build -j $(JOBS) rendezvous-server

run: server
	./build/rendezvous-server -port $(PORT) $(ARGS)

install: server
	packaging/install.sh build/rendezvous-server "$(DESTDIR)" "$(PREFIX)" "$(UNITDIR)"

# build/rendezvous_<version>_<arch>.deb: the binary, the unit, Depends from dpkg-shlibdeps.
deb: server
	@$(MAKE) --no-print-directory deps EXTRA_DEBS="$(PACKAGING_DEBS)"
	packaging/build-deb.sh build/rendezvous-server build

# build-release/rendezvous-server: one file to copy to any x86-64 Linux with glibc 2.34 or later;
# every other library is linked in from Debian's static archives. Its black-box tests
# (test_release: ldd and a request; the API and service tests) run on it before it is called done.
build-release/build.ninja:
	cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DRDV_STATIC=ON \
	  "-DRDV_E2E_FILTER=test_release|test_service|test_api"
release: deps build-release/build.ninja
	ninja -C build-release -j $(JOBS) rendezvous-server
	strip --strip-debug build-release/rendezvous-server
	cd build-release && ctest --output-on-failure -j $(JOBS)
	@ls -l build-release/rendezvous-server

# Four trees: plain (RelWithDebInfo), ASan+UBSan (every test), TSan (the concurrent code: store,
# limiter, connection layer, and the server under the concurrency black-box tests), and the fuzz
# tree (clang, ASan+UBSan+libFuzzer: the request-path fuzzer, run for RDV_FUZZ_SECONDS = 60 s).
# One ctest run over all of them, so its closing summary counts every test.
TSAN_TESTS := kv_test;ratelimit_test;net_test;http_test;common_test
build-asan/build.ninja:
	cmake -S . -B build-asan $(CMAKE_FLAGS) -DRDV_SANITIZE=address -DRDV_TEST_PREFIX=asan.
build-tsan/build.ninja:
	cmake -S . -B build-tsan $(CMAKE_FLAGS) -DRDV_SANITIZE=thread -DRDV_TEST_PREFIX=tsan. \
	  "-DRDV_E2E_FILTER=test_concurrency|test_api" "-DRDV_UNIT_TESTS=$(TSAN_TESTS)"
build-fuzz/build.ninja:
	CC=clang CXX=clang++ cmake -S . -B build-fuzz $(CMAKE_FLAGS) -DRDV_FUZZ=ON -DRDV_TEST_PREFIX=fuzz.

test: test-deps build build-asan/build.ninja build-tsan/build.ninja build-fuzz/build.ninja
	ninja -C build-asan -j $(JOBS)
	ninja -C build-tsan -j $(JOBS)
	ninja -C build-fuzz -j $(JOBS) request_path_fuzzer
	@mkdir -p build/all
	@printf 'subdirs("%s" "%s" "%s" "%s")\n' "$(CURDIR)/build" "$(CURDIR)/build-asan" \
	  "$(CURDIR)/build-tsan" "$(CURDIR)/build-fuzz" > build/all/CTestTestfile.cmake
	cd build/all && ctest --output-on-failure -j $(JOBS) --timeout 600

# The plain tree only: the quick loop while developing.
test-fast: build
	cd build && ctest --output-on-failure -j $(JOBS)

# A longer fuzz run (FUZZ_SECONDS, default 600) on the corpus kept in build-fuzz, seeded from
# tests/fuzz/corpus. A crash, leak or timeout stops it non-zero and leaves the input in
# build-fuzz/tests/fuzz/ (crash-*, leak-*, timeout-*); replay one with
# ./build-fuzz/tests/fuzz/request_path_fuzzer <file>.
FUZZ_SECONDS ?= 600
fuzz: test-deps build-fuzz/build.ninja
	ninja -C build-fuzz -j $(JOBS) request_path_fuzzer
	@mkdir -p build-fuzz/tests/fuzz/corpus
	./build-fuzz/tests/fuzz/request_path_fuzzer -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	  -max_len=4096 -timeout=30 -print_final_stats=1 -dict=tests/fuzz/http.dict \
	  -artifact_prefix=build-fuzz/tests/fuzz/ build-fuzz/tests/fuzz/corpus tests/fuzz/corpus

bench:
	$(MAKE) deps EXTRA_DEBS="$(BENCH_DEBS)"
	bash bench/run.sh

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'src/*.cpp' 'tests/*.cc' 'bench/*.cc')

clean:
	rm -rf build build-asan build-tsan build-fuzz build-release
