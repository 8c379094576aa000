# kvmhub: the two commands a newcomer needs are `make run` and `make test`.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./data
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
SANITIZE_DIR ?= build-asan
FUZZ_SECONDS ?= 60

.PHONY: all deps configure build run test unit integration bench asan fuzz fmt clean

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

# Every test: unit, integration, system (real libvirtd, TCG guests), e2e and browser. Ends with
# the list of skipped tests and checks, each with its reason (tests/skips.sh); ctest's verdict stands.
test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600; rc=$$?; \
		cd $(CURDIR) && tests/skips.sh $(BUILD_DIR); exit $$rc

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -R '^unit\.'

integration: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -R '^integration\.'

# Benchmarks: numbers for the README, never pass/fail.
bench: build
	@bench/run.sh $(BUILD_DIR)
	@$(BUILD_DIR)/bench/console_proxy_bench
	@bench/meta.sh $(BUILD_DIR)
	@bench/sessions.sh $(BUILD_DIR)
	@bench/dead_hosts.sh $(BUILD_DIR)

# One clang build with ASan and UBSan (and libFuzzer's coverage instrumentation) in $(SANITIZE_DIR)
# serves both targets below; a sanitizer finding aborts the process that has it.
$(SANITIZE_DIR)/build.ninja:
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(SANITIZE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DKVMHUB_FUZZ=ON -DKVMHUB_BENCH=OFF -DKVMHUB_WERROR=OFF

# The unit and integration tests (the generated bad-input test among them) under the sanitizers,
# the daemon they start included. Leak checking is off: libvirt and libcurl keep global state.
asan: deps $(SANITIZE_DIR)/build.ninja
	ninja -C $(SANITIZE_DIR) -j $(JOBS) kvmhubd unit_tests integration_tests skip_policy_probe
	cd $(SANITIZE_DIR) && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) --timeout 600 -R '^(unit|integration)\.'

# libFuzzer: builds fuzz/*_fuzz.cpp and runs each for $(FUZZ_SECONDS)s from its seed corpus
# fuzz/corpus/<name>/ (read only; new inputs go to $(SANITIZE_DIR)/corpus/<name>/, crashes to $(SANITIZE_DIR)/).
fuzz: deps $(SANITIZE_DIR)/build.ninja
	ninja -C $(SANITIZE_DIR) -j $(JOBS) $(notdir $(basename $(wildcard fuzz/*_fuzz.cpp)))
	@for src in fuzz/*_fuzz.cpp; do \
		name=$$(basename $$src .cpp); target=$${name%_fuzz}; \
		mkdir -p $(SANITIZE_DIR)/corpus/$$target; \
		dict=""; if [ -f fuzz/$$target.dict ]; then dict="-dict=fuzz/$$target.dict"; fi; \
		seeds=""; if [ -d fuzz/corpus/$$target ]; then seeds="fuzz/corpus/$$target"; fi; \
		echo "== $$name for $(FUZZ_SECONDS)s"; \
		$(SANITIZE_DIR)/$$name -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict \
			-artifact_prefix=$(SANITIZE_DIR)/ $(SANITIZE_DIR)/corpus/$$target $$seeds || exit 1; \
	done

fmt:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp' 'fuzz/*.cpp')

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR)
