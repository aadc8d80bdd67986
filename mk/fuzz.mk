# Fuzzing (csrc/fuzz): libFuzzer targets with ASan + UBSan, built with clang
# in build/fuzz.
#   make test-fuzz     a short run of every target (part of `make test`)
#   make fuzz          a longer run: FUZZ_SECONDS per target (default 600)
# FUZZ_SMOKE_SECONDS sets the short run (default 12 s per target, two at a
# time: about 80 s for the 11 targets).  A crash's input lands in
# build/fuzz/artifacts/; see docs/security.md.

FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 12

.PHONY: fuzz-deps test-fuzz fuzz

# clang 14 and its runtime libraries (libclang-rt-14-dev holds libFuzzer)
fuzz-deps: deps
	@scripts/ensure-deps.sh clang libclang-rt-14-dev

test-fuzz: fuzz-deps
	scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS)

fuzz: fuzz-deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

TEST_TARGETS += test-fuzz
