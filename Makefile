# kvmhub: the two commands a newcomer needs are `make run` and `make test`.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./data
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build run test unit integration bench fmt clean

all: build

deps:
	@scripts/deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	ninja -C $(BUILD_DIR) -j $(JOBS)

# Starts kvmhubd in the foreground on $(LISTEN) with a SQLite store in $(DATA_DIR); Ctrl-C stops it.
run: build
	@scripts/run.sh $(BUILD_DIR)/kvmhubd $(LISTEN) $(DATA_DIR)

# Every test: unit (pure code, in-process services) and integration (the real daemon on loopback).
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -R '^unit\.'

integration: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -R '^integration\.'

# Benchmarks: numbers for the README, never pass/fail.
bench: build
	@bench/run.sh $(BUILD_DIR)

fmt:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp')

clean:
	rm -rf $(BUILD_DIR)
