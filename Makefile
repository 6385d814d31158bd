# The two-command quick start: `make demo` and `make test`. Each installs what is missing
# (scripts/setup.sh), configures a Release build in build/, builds, and runs.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

FUZZ_SECONDS ?= 60
FUZZ_BUILD ?= build-fuzz

.PHONY: demo test test-sanitize build setup clean fuzz tidy

# The main job: a small Nyström encoder learns ListOps (short sequences) in about two minutes,
# printing its progress and, at the end, the test accuracy beside the majority-class baseline.
demo: build
	$(BUILD)/tools/nyx-train listops

test: build
	ctest --test-dir $(BUILD) --output-on-failure --parallel $(JOBS)

# The whole suite again, built with AddressSanitizer (LeakSanitizer included) and UndefinedBehavior-
# Sanitizer in build-asan/; the slowest tests take a smaller size there, and the checks of the
# repository's text (style, format, docs) are left to `make test`. CI runs it after `make test`.
test-sanitize:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DNYX_SANITIZE=address,undefined"

build: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) --parallel $(JOBS)

setup:
	@scripts/setup.sh

# clang-tidy's checks (.clang-tidy: likely bugs, avoidable copies, overlong functions) over the library
# and the tools. Not part of CI: it takes about as long as a build.
tidy: build
	run-clang-tidy -p $(BUILD) -quiet -j $(JOBS) '/(core|autograd|dist|ops|nn|models|data|tools)/[^/]*\.cpp$$'

# libFuzzer on every reader of outside data (tests/fuzz/README.md): builds the targets with clang,
# ASan and UBSan in $(FUZZ_BUILD)/, then runs each for FUZZ_SECONDS. Fails on any finding.
fuzz:
	@scripts/setup.sh clang libclang-rt-14-dev
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DNYX_FUZZ=ON \
	  -DNYX_BUILD_TESTS=OFF -DNYX_BUILD_EXAMPLES=OFF -DNYX_BUILD_BENCHMARKS=OFF -DNYX_BUILD_TOOLS=OFF
	cmake --build $(FUZZ_BUILD) --parallel $(JOBS)
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) build-asan $(FUZZ_BUILD)
