#!/usr/bin/env bash
# The carrier watch against Prism mocks of the CAMARA contracts in ../shared/camara/
# (request validation on). Installs Prism (npm registry, cached) on first use, then
# runs the Prism-backed tests, which plain `cargo test` lists as ignored.
#
#   bash scripts/carrier-tests.sh
#
# Ends with one line "carrier-prism: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/tools.sh
. scripts/lib/tools.sh

if [ ! -d ../shared/camara ]; then
    echo "carrier-prism: the CAMARA contracts are missing (../shared/camara)" >&2
    echo "carrier-prism: 0 passed, 1 failed"
    exit 1
fi
if ! ensure_prism; then
    echo "carrier-prism: Prism could not be installed" >&2
    echo "carrier-prism: 0 passed, 1 failed"
    exit 1
fi
export PORTCULLIS_PRISM="$PRISM"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
# One test at a time: each test picks a free port for its Prism, which takes seconds to
# bind it, and a mock server of a test running beside it could take that port meanwhile.
cargo test -p portcullis-carrier --test prism -- --ignored --test-threads=1 2>&1 | tee "$log" || rc=$?
passed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($i ~ /^passed/) s += $(i - 1) } END { print s + 0 }' "$log")
failed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($i ~ /^failed/) s += $(i - 1) } END { print s + 0 }' "$log")
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1
fi
echo "carrier-prism: $passed passed, $failed failed"
exit "$rc"
