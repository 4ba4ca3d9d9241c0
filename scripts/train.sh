#!/usr/bin/env bash
# The main job: install what is missing, build, train with the defaults and write the figures (to out/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release
[ -x build/release/apps/swirl ] || { echo "swirl: the build did not produce build/release/apps/swirl" >&2; exit 1; }
exec build/release/apps/swirl train --out out "$@"
