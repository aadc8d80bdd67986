# The dashboard of `tim-py serve`: tests/test_dashboard.py drives a real headless Chromium with
# Selenium through Debian's chromedriver (no browser download), so the Python tests need both.
# Without them those tests fail: they are never skipped.
#   make dashboard-deps   install chromium and chromium-driver when missing

.PHONY: dashboard-deps

dashboard-deps: deps
	@scripts/ensure-deps.sh chromium chromium-driver

test-python: dashboard-deps
