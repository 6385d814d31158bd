# The two-command quick start: `make demo` and `make test`. Each installs what is missing
# (scripts/setup.sh), configures a Release build in build/, builds, and runs.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: demo test build setup clean

# The main job: a small Nyström encoder learns ListOps (short sequences) in about two minutes,
# printing its progress and, at the end, the test accuracy beside the majority-class baseline.
demo: build
	$(BUILD)/tools/nyx-train listops

test: build
	ctest --test-dir $(BUILD) --output-on-failure --parallel $(JOBS)

build: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) --parallel $(JOBS)

setup:
	@scripts/setup.sh

clean:
	rm -rf $(BUILD)
