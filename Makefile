# The README's two commands:
#   make demo   set everything up, then run the demo
#   make test   set everything up, then run every test (native, sanitizers, valgrind, Python)

PYTHON ?= python3
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
VENV := .venv
VPY := $(VENV)/bin/python

.PHONY: all deps native test test-native test-asan test-tsan test-valgrind test-python \
        venv demo demo-c clean

all: native

deps:
	@scripts/ensure-deps.sh

# ---- C: timref --------------------------------------------------------------

native: deps
	cmake -S csrc -B build/native -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build/native -j$(JOBS)

test-native: native
	ctest --test-dir build/native --output-on-failure -j$(JOBS)

test-asan: deps
	cmake -S csrc -B build/asan -DCMAKE_BUILD_TYPE=Debug -DTIMREF_SANITIZE_ADDRESS=ON
	cmake --build build/asan -j$(JOBS)
	ctest --test-dir build/asan --output-on-failure -j$(JOBS)

test-tsan: deps
	cmake -S csrc -B build/tsan -DCMAKE_BUILD_TYPE=Debug -DTIMREF_SANITIZE_THREAD=ON
	cmake --build build/tsan -j$(JOBS)
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan --output-on-failure -j$(JOBS)

test-valgrind: deps
	cmake -S csrc -B build/valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTIMREF_VALGRIND=ON
	cmake --build build/valgrind -j$(JOBS)
	ctest --test-dir build/valgrind --output-on-failure -j$(JOBS) -E '^examples$$'

# ---- Python: tim_py -----------------------------------------------------------

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

venv: deps $(VPY)
	$(VPY) -m pip install -q -e '.[test]'

test-python: venv native
	$(VPY) -m pytest -q tests

# ---- the README's commands ------------------------------------------------------

# Every area adds its test targets here; mk/*.mk files add their own (fuzz, ...).
TEST_TARGETS := test-native test-asan test-tsan test-valgrind test-python
-include $(sort $(wildcard mk/*.mk))

test: $(TEST_TARGETS)

demo: venv
	$(VENV)/bin/tim-py demo

# The C examples, against a temporary world.
demo-c: native
	ctest --test-dir build/native --output-on-failure -R '^examples$$' -V

clean:
	rm -rf build $(VENV) *.egg-info tim_py/_tim*.so tim_py/_tim.c
