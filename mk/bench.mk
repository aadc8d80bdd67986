# Benchmarks (bench/run.py; see docs/bench.md).  Not tests: nothing here is
# added to TEST_TARGETS.
.PHONY: bench bench-quick

bench: venv native
	$(VPY) bench/run.py --json build/bench/results.json

bench-quick: venv native
	$(VPY) bench/run.py --quick --json build/bench/results-quick.json
