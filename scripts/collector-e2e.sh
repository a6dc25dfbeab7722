#!/usr/bin/env bash
# Collector end to end: the real agent (through the Python bindings) produces a day of
# events, its upload requests are sent with Python's urllib to `portcullis collector serve`
# on loopback, tampered, replayed and forked batches are refused, `collector verify` passes,
# and the history survives the phone's database being deleted. Once against SQLite and once
# against PostgreSQL (Debian's package, installed when absent; a throwaway cluster on a
# loopback port, run as an unprivileged user when this runs as root).
#
#   bash scripts/collector-e2e.sh
#
# The last line is `collector-e2e: N passed, M failed`; the script exits non-zero on any failure.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export RUST_BACKTRACE=0
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

OUT="$ROOT/target/collector-e2e"
LIB_NAME="libportcullis_ffi.so"
WORK="$(mktemp -d)"
PG_BIN=""
PG_DATA=""
PG_USER=""
passed=0
failed=0

step() { printf '\n==> %s\n' "$*"; }

cleanup() {
    if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
        as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

report() {
    echo "collector-e2e: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# ---------------------------------------------------------------- build

step "building the console tool, portcullis-ffi and the Python bindings"
mkdir -p "$OUT/lib"
cargo build -p portcullis-cli </dev/null
# The same features as scripts/binding-tests.sh, so the two scripts do not rebuild each other's library.
cargo build -p portcullis-ffi --features test-hooks </dev/null
cp "target/debug/$LIB_NAME" "$OUT/lib/$LIB_NAME.tmp"
mv "$OUT/lib/$LIB_NAME.tmp" "$OUT/lib/$LIB_NAME"
cargo build -p uniffi-bindgen </dev/null
rm -rf "$OUT/python"
target/debug/uniffi-bindgen generate --library "$OUT/lib/$LIB_NAME" --language python \
    --out-dir "$OUT/python" --no-format </dev/null >"$OUT/generate-python.log" 2>&1 ||
    { cat "$OUT/generate-python.log" >&2; echo "generating the Python bindings failed" >&2; failed=1; report; exit 1; }
cp "$OUT/lib/$LIB_NAME" "$OUT/python/$LIB_NAME"
PORTCULLIS="$ROOT/target/debug/portcullis"

# ---------------------------------------------------------------- one run per store

# run_suite NAME STORE_URL: runs the Python scenario against a collector on STORE_URL.
run_suite() {
    local name="$1" store="$2" log="$OUT/$1.log"
    step "end to end against $name"
    set +e
    PORTCULLIS_PY_BINDINGS="$OUT/python" PORTCULLIS_BIN="$PORTCULLIS" COLLECTOR_STORE="$store" \
        COLLECTOR_WORK="$WORK/$name" PYTHONDONTWRITEBYTECODE=1 \
        python3 tests/collector/test_collector_e2e.py </dev/null 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    local line p f
    line="$(grep -E '^collector-e2e-case: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)"
    if [ -z "$line" ]; then
        p=0 f=1
    else
        p="$(sed -E 's/^[^:]+: ([0-9]+) passed.*/\1/' <<<"$line")"
        f="$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")"
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p))
    failed=$((failed + f))
}

mkdir -p "$WORK/sqlite"
run_suite sqlite "sqlite:$WORK/sqlite/collector.db"

# ---------------------------------------------------------------- PostgreSQL

as_pg_user() {
    if [ -n "$PG_USER" ]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

find_pg_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            PG_BIN="$d"
        fi
    done
}

step "PostgreSQL: a throwaway cluster on loopback"
find_pg_bin
if [ -z "$PG_BIN" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "PostgreSQL is not installed: apt-get install -y postgresql"
        DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql </dev/null ||
            { DEBIAN_FRONTEND=noninteractive apt-get update </dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql </dev/null; }
        find_pg_bin
    fi
fi
if [ -z "$PG_BIN" ]; then
    echo "PostgreSQL is not installed and cannot be installed here (not root): the PostgreSQL run fails"
    failed=$((failed + 1))
    report
    exit 1
fi
PG_ROOT="$WORK/pg"
mkdir -p "$PG_ROOT"
if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root.
    PG_USER=nobody
    chown "$PG_USER" "$PG_ROOT"
    chmod 755 "$WORK"
fi
PG_DATA="$PG_ROOT/data"
PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
as_pg_user "$PG_BIN/initdb" -D "$PG_DATA" -U collector --auth=trust -E UTF8 >"$OUT/initdb.log" 2>&1 ||
    { cat "$OUT/initdb.log"; echo "initdb failed"; failed=$((failed + 1)); report; exit 1; }
as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_ROOT/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_ROOT -c fsync=off" start >/dev/null ||
    { cat "$PG_ROOT/server.log"; echo "PostgreSQL did not start"; failed=$((failed + 1)); report; exit 1; }
as_pg_user "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U collector collector
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"

mkdir -p "$WORK/postgres"
run_suite postgres "postgres:postgres://collector@127.0.0.1:$PG_PORT/collector"

as_pg_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null || true

report
