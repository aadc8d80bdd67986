# Shell completion: tests/test_cli_terminal.py loads the scripts of `tim-py completion` in bash,
# zsh and fish and checks what they complete, so the Python tests need the two shells that
# Debian does not install by default.
#   make completion-deps   install zsh and fish when missing

.PHONY: completion-deps

completion-deps: deps
	@scripts/ensure-deps.sh zsh fish

test-python: completion-deps
