# The two-command quick start: `make demo` and `make test`. Each installs what is missing
# (scripts/setup.sh), configures a Release build in build/, builds, and runs.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: demo test build setup clean

demo: build
	$(BUILD)/examples/mlp_regression

test: build
	ctest --test-dir $(BUILD) --output-on-failure --parallel $(JOBS)

build: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) --parallel $(JOBS)

setup:
	@scripts/setup.sh

clean:
	rm -rf $(BUILD)
