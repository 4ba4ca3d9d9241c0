#!/usr/bin/env bash
# The test command: install what is missing, build the release preset with warnings as errors, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release -DSWIRL_WERROR=ON
cmake --build --preset release
ctest --preset release
