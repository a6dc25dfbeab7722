#!/usr/bin/env bash
# Every OCSF export the test suite produces, validated against the OCSF 1.1.0 schema with
# pydantic-ocsf (PyPI, pinned, installed into the cache on first use).
#
#   bash scripts/ocsf-tests.sh
#
# Runs the Rust tests that export OCSF (journal export, telemetry events, carrier watch,
# the collector's export and alerts)
# with PORTCULLIS_OCSF_DUMP set, so each keeps what it exported, then checks every event
# with tests/ocsf/validate.py (which documents the validator's gaps and the workaround).
# Ends with one line "ocsf: N passed, M failed" (N events).
set -euo pipefail
cd "$(dirname "$0")/.."

PYDANTIC_OCSF_VERSION=3.0.0
cache="${PORTCULLIS_CACHE_DIR:-$HOME/.cache/portcullis}"
site="$cache/pydantic-ocsf-$PYDANTIC_OCSF_VERSION"

fail() {
    echo "ocsf: $*" >&2
    echo "ocsf: 0 passed, 1 failed"
    exit 1
}

if [[ ! -f "$site/.complete" ]]; then
    command -v python3 >/dev/null || fail "python3 is needed to install pydantic-ocsf"
    mkdir -p "$cache"
    tmp="$(mktemp -d "$cache/.pydantic-ocsf.XXXXXX")"
    if ! PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
        --no-warn-conflicts --target "$tmp" "pydantic-ocsf==$PYDANTIC_OCSF_VERSION"; then
        rm -rf "$tmp"
        fail "pip install pydantic-ocsf==$PYDANTIC_OCSF_VERSION failed"
    fi
    touch "$tmp/.complete"
    rm -rf "$site"
    mv -T "$tmp" "$site" 2>/dev/null || rm -rf "$tmp"
fi

dump="$(mktemp -d)"
log="$(mktemp)"
trap 'rm -rf "$dump" "$log"' EXIT
export PORTCULLIS_OCSF_DUMP="$dump"
rc=0
{
    cargo test -p portcullis-cli --test journal --test carrier
    cargo test -p portcullis-core --test telemetry_scenario
    cargo test -p portcullis-carrier --test scripted --test listen --test phone
    cargo test -p portcullis-collector --test upload
} >"$log" 2>&1 || rc=$?
if [[ "$rc" -ne 0 ]]; then
    cat "$log"
    fail "the tests that export OCSF failed"
fi

# Every exporter must have left events: a hook that stopped writing is a failure, not a pass.
for prefix in cli-journal-export-enrolled cli-journal-export-unenrolled cli-carrier-watch \
    cli-carrier-phone-alerts core-telemetry-events carrier- collector-export \
    collector-alerts-history collector-alerts-silent; do
    compgen -G "$dump/$prefix*.jsonl" >/dev/null || fail "no OCSF export was kept from $prefix"
done

PYTHONPATH="$site" PYTHONDONTWRITEBYTECODE=1 python3 tests/ocsf/validate.py "$dump"
