#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine:
#   1. install missing Debian packages, 2. build (Release) and run every test
#   (unit, cli, neuron, e2e), 3. build again with AddressSanitizer +
#   UndefinedBehaviorSanitizer and run the C unit and command-line tests,
#   4. the same on a ThreadSanitizer build (the threaded code: sweeps, the
#   ensemble trainer, the plugin registry).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/deps.sh"

echo "== build (Release) =="
"$ROOT/scripts/build.sh" "$ROOT/build"
echo "== tests (Release): unit, cli, python, neuron, e2e, install =="
ctest --test-dir "$ROOT/build" --output-on-failure -j2

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer) =="
"$ROOT/scripts/build.sh" "$ROOT/build-asan" -DNM_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== tests under the sanitizers: unit, cli =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$ROOT/build-asan" --output-on-failure -j2 -L 'unit|cli'

echo "== build (ThreadSanitizer) =="
"$ROOT/scripts/build.sh" "$ROOT/build-tsan" -DNM_TSAN=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== tests under ThreadSanitizer: unit, cli =="
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir "$ROOT/build-tsan" --output-on-failure -j2 -L 'unit|cli'
echo "== all tests passed =="
