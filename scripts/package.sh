#!/usr/bin/env bash
# A Debian package of the portable build: scripts/package.sh [--check]. Builds the `package` preset (the portable
# kernels, no CUDA) and runs cpack -G DEB; the .deb lands in build/package/. --check then installs it with
# apt-get, runs `swirl --cpu-capabilities` from the PATH, builds tests/consumer against it with find_package(swirl),
# runs that, and removes the package again (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh dpkg-dev
cmake --preset package -DSWIRL_WERROR=ON
cmake --build --preset package
(cd build/package && cpack -G DEB)
deb=$(ls build/package/swirl_*.deb)
echo "scripts/package.sh: $deb"
[[ ${1:-} == --check ]] || exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "./$deb" >/dev/null
trap 'apt-get remove -y -q swirl >/dev/null' EXIT
command -v swirl
swirl --cpu-capabilities
work=$(mktemp -d)
cmake -S tests/consumer -B "$work" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work" >/dev/null
"$work/consumer"
rm -rf "$work"
echo "scripts/package.sh: installed $deb, ran swirl from the PATH and a find_package(swirl) consumer"
