#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for a short while from its committed seeds.
#
#   bash scripts/fuzz.sh                 # CI: FUZZ_SECONDS per target (default 20)
#   FUZZ_SECONDS=3600 bash scripts/fuzz.sh trace_line   # a long run of one target
#
# Needs the nightly toolchain; installs cargo-fuzz with `cargo install` when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
# A fresh machine may have only the stable toolchain: nightly comes from rustup.
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    [ -d "seeds/$t" ] && cp -r "seeds/$t/." "$work/$t/"
    echo "fuzz: $t for ${seconds}s"
    if ! cargo +nightly fuzz run "$t" "$work/$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
        >"$work/$t.log" 2>&1; then
        # What failed and the input that did it (also kept under fuzz/artifacts/).
        grep -E -A3 "panicked|ERROR: libFuzzer|Base64:|Test unit written" "$work/$t.log" | head -n 40
        echo "fuzz: $t failed"
        exit 1
    fi
    tail -n 3 "$work/$t.log"
done
echo "fuzz: ${#targets[@]} target(s) ran without a crash"
