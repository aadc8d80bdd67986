# Type checking: mypy --strict (mypy comes with the test extra).
#   make typecheck   mypy --strict on tim_py alone: a quick check while editing
#
# Not added to TEST_TARGETS, on purpose: `make test` already type-checks through
# test-python, where tests/test_typing.py runs one mypy --strict over the package,
# every ```python block of README.md and docs/*.md, and the API's expected types.
# That test is the place (it also runs under a bare pytest, and reports a doc
# example's error at its line in the Markdown file); adding this target to
# TEST_TARGETS would check the package twice.

.PHONY: typecheck

typecheck: venv
	$(VPY) -m mypy --strict tim_py
