#!/usr/bin/env bash
# Install everything the test suite needs, then run the quality gates and every test.
# This is the README's test command; .ci/run calls it. Safe to run again (it reuses .venv).
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: Debian's Chromium for the browser tests, a CJK font for pages and PDFs.
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need_apt+=(fonts-noto-cjk)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing ${need_apt[*]} (Debian packages)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

# Python packages in a project virtual environment.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

echo "== ruff (lint and format)"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy examhall
echo "== import contracts"
.venv/bin/lint-imports
echo "== pytest"
.venv/bin/python -m pytest "$@"
