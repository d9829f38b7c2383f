# rendezvous: every task is a target here. `make run` and `make test` are all a new machine needs.
SHELL := /bin/bash
.DEFAULT_GOAL := build

DEBS := g++ cmake ninja-build ccache pkg-config python3 libboost-dev libabsl-dev liblmdb-dev \
        libsodium-dev zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev
BENCH_DEBS := wrk nginx-light
JOBS ?= $(shell nproc)
CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
PORT ?= 8080
# ccache: paths relative to the checkout, so a fresh clone of the same sources (CI) hits the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: deps build run test test-fast bench clean format

# Installs only the Debian packages that are missing (quietly; needs root on a fresh machine).
deps:
	@missing=$$(for p in $(DEBS) $(EXTRA_DEBS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

build/build.ninja:
	cmake -S . -B build $(CMAKE_FLAGS)

build: deps build/build.ninja
	ninja -C build -j $(JOBS)

run: build
	./build/rendezvous-server -port $(PORT) $(ARGS)

# Three trees: plain (RelWithDebInfo), ASan+UBSan (every test), TSan (the concurrent code: store,
# limiter, connection layer, and the server under the concurrency black-box tests). One ctest
# run over all of them, so its closing summary counts every test.
TSAN_TESTS := kv_test;ratelimit_test;net_test;http_test;common_test
build-asan/build.ninja:
	cmake -S . -B build-asan $(CMAKE_FLAGS) -DRDV_SANITIZE=address -DRDV_TEST_PREFIX=asan.
build-tsan/build.ninja:
	cmake -S . -B build-tsan $(CMAKE_FLAGS) -DRDV_SANITIZE=thread -DRDV_TEST_PREFIX=tsan. \
	  "-DRDV_E2E_FILTER=test_concurrency|test_api" "-DRDV_UNIT_TESTS=$(TSAN_TESTS)"

test: build build-asan/build.ninja build-tsan/build.ninja
	ninja -C build-asan -j $(JOBS)
	ninja -C build-tsan -j $(JOBS)
	@mkdir -p build/all
	@printf 'subdirs("%s" "%s" "%s")\n' "$(CURDIR)/build" "$(CURDIR)/build-asan" "$(CURDIR)/build-tsan" \
	  > build/all/CTestTestfile.cmake
	cd build/all && ctest --output-on-failure -j $(JOBS) --timeout 600

# The plain tree only: the quick loop while developing.
test-fast: build
	cd build && ctest --output-on-failure -j $(JOBS)

bench:
	$(MAKE) deps EXTRA_DEBS="$(BENCH_DEBS)"
	bash bench/run.sh

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h' 'src/*.cpp' 'tests/*.cc' 'bench/*.cc')

clean:
	rm -rf build build-asan build-tsan
