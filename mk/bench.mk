# Benchmarks (bench/run.py; see docs/bench.md).  Not tests: nothing here is
# added to TEST_TARGETS.
#   make bench-rest   the REST API over HTTP (tim-py serve) beside tim.admin in process
#                     (bench/rest.py; its --smoke mode runs in tests/test_bench_rest.py)
.PHONY: bench bench-quick bench-rest

bench: venv native
	$(VPY) bench/run.py --json build/bench/results.json

bench-quick: venv native
	$(VPY) bench/run.py --quick --json build/bench/results-quick.json

bench-rest: venv native
	$(VPY) bench/rest.py --json build/bench/rest.json
