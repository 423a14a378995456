#!/usr/bin/env bash
# Builds the static release binary for the GPU machine (which has no Swift toolchain) and packs
# it as .device/convkit.gz (stripped and gzipped to fit the device tool's 64 MiB transfer).
# On the GPU machine: gunzip -c .device/convkit.gz > /tmp/convkit && chmod +x /tmp/convkit
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --static-swift-stdlib "$@"
mkdir -p .device
strip -o .device/convkit .build/release/convkit
gzip -9 -f .device/convkit
ls -la .device/convkit.gz
