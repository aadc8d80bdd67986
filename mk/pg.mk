# PostgreSQL: the private cluster of the tests (scripts/pg-cluster.sh; see
# docs/postgresql.md).  Every run that needs a PostgreSQL world gets one
# without a system-wide server:
#   - pytest (test-python): a session fixture in tests/conftest.py uses the
#     cluster named by TIMREF_TEST_PG_URL, or starts one with the script for the
#     session and stops it at the end;
#   - ctest: the PG tests are registered as `scripts/pg-cluster.sh run -- TEST`,
#     which starts a cluster for the test unless TIMREF_TEST_PG_URL is set.
# So `make test` runs them all, each run against a real server; nothing passes
# for want of a cluster.
#   make test-pg   only the PostgreSQL parts (native `ctest -R _pg` and `pytest -m pg`)
#                  under one cluster, started and stopped here
#   make pg-deps   install the server (scripts/pg-cluster.sh install: no system cluster) and `ip`
# TIMREF_TEST_PG_URL   postgresql://timref:PASSWORD@127.0.0.1:PORT/timref of the cluster
# TIMREF_TEST_PG_DIR   its directory (for scripts/pg-cluster.sh server-stop|server-start)

.PHONY: pg-deps test-pg

pg-deps: deps
	@scripts/pg-cluster.sh install
	@scripts/ensure-deps.sh iproute2

# the Python tests include the PostgreSQL and network-namespace ones
test-python: pg-deps

test-pg: venv native pg-deps
	scripts/pg-cluster.sh run -- sh -c 'ctest --test-dir build/native --output-on-failure -R _pg && $(VPY) -m pytest -q -m pg tests'
