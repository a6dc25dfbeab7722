#!/usr/bin/env bash
# The one test entry point: everything CI runs, in order. Installs what it needs
# (Kotlin compiler, JNA, Zig, clang, cargo-fuzz, cargo-deny, the Robolectric jars) into a cache on first use.
#
#   bash scripts/test.sh
#
# Ends with one line "portcullis: N passed, M failed" counting Rust, carrier-mock, OCSF
# schema, binding, collector end-to-end, Android JVM and Robolectric tests.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "toolchain: rustc is the declared minimum Rust version (rust-version in Cargo.toml)"
declared=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
[ -n "$declared" ] || { echo "Cargo.toml declares no workspace rust-version" >&2; exit 1; }
# Every later step builds with this rustc, so the run checks that the declared minimum
# builds and passes; a newer rustc would leave the declaration unchecked.
rustc --version | grep -q "^rustc $declared[. ]" ||
    { echo "rustc is not the declared rust-version $declared: $(rustc --version); build with that toolchain (rustup toolchain install $declared, then RUSTUP_TOOLCHAIN=$declared) or raise rust-version with the dependency update that needs it" >&2; exit 1; }

step "rustfmt"
cargo fmt --all -- --check

step "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "dependency policy: licences, duplicate versions, sources (deny.toml)"
command -v cargo-deny >/dev/null || cargo install cargo-deny --locked --version 0.20.2
cargo deny --log-level error check licenses bans sources

step "API docs (rustdoc warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet

step "Rust tests: unit, scenario, property and CLI tests"
cargo test --workspace 2>&1 | tee "$log_dir/cargo-test.log"
sum_field() { awk -v f="$1" '/^test result:/ { for (i = 1; i <= NF; i++) if ($i ~ "^" f) s += $(i - 1) } END { print s + 0 }' "$log_dir/cargo-test.log"; }
rust_passed=$(sum_field passed)
rust_failed=$(sum_field failed)

step "carrier watch against Prism mocks of the CAMARA contracts"
bash scripts/carrier-tests.sh 2>&1 | tee "$log_dir/carrier.log"
carrier_line=$(grep -E '^carrier-prism: [0-9]+ passed, [0-9]+ failed' "$log_dir/carrier.log" | tail -n 1)
carrier_passed=$(sed -E 's/^carrier-prism: ([0-9]+) passed.*/\1/' <<<"$carrier_line")
carrier_failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$carrier_line")

step "OCSF exports validated against the OCSF 1.1.0 schema (pydantic-ocsf)"
bash scripts/ocsf-tests.sh 2>&1 | tee "$log_dir/ocsf.log"
ocsf_line=$(grep -E '^ocsf: [0-9]+ passed, [0-9]+ failed' "$log_dir/ocsf.log" | tail -n 1)
ocsf_passed=$(sed -E 's/^ocsf: ([0-9]+) passed.*/\1/' <<<"$ocsf_line")
ocsf_failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$ocsf_line")

step "binding tests: Kotlin (JVM) and Python against the built library; Swift header"
bash scripts/binding-tests.sh 2>&1 | tee "$log_dir/bindings.log"
bind_line=$(grep -E '^bindings: [0-9]+ passed, [0-9]+ failed' "$log_dir/bindings.log" | tail -n 1)
bind_passed=$(sed -E 's/^bindings: ([0-9]+) passed.*/\1/' <<<"$bind_line")
bind_failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$bind_line")

step "collector end to end: the agent through Python against the collector, on SQLite and PostgreSQL"
bash scripts/collector-e2e.sh 2>&1 | tee "$log_dir/collector-e2e.log"
ce_line=$(grep -E '^collector-e2e: [0-9]+ passed, [0-9]+ failed' "$log_dir/collector-e2e.log" | tail -n 1)
ce_passed=$(sed -E 's/^collector-e2e: ([0-9]+) passed.*/\1/' <<<"$ce_line")
ce_failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$ce_line")

step "Android adapter tests: the platform-independent Kotlin on the JVM against the real library"
bash scripts/android-jvm-tests.sh 2>&1 | tee "$log_dir/android-jvm.log"
jvm_line=$(grep -E '^android-jvm: [0-9]+ passed, [0-9]+ failed' "$log_dir/android-jvm.log" | tail -n 1)
jvm_passed=$(sed -E 's/^android-jvm: ([0-9]+) passed.*/\1/' <<<"$jvm_line")
jvm_failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$jvm_line")

step "Android module against the real framework: kotlinc on android/src/main, Robolectric tests"
bash scripts/android-robolectric-tests.sh 2>&1 | tee "$log_dir/android-robolectric.log"
robo_line=$(grep -E '^android-robolectric: [0-9]+ passed, [0-9]+ failed' "$log_dir/android-robolectric.log" | tail -n 1)
robo_passed=$(sed -E 's/^android-robolectric: ([0-9]+) passed.*/\1/' <<<"$robo_line")
robo_failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$robo_line")

step "cross compile-check for Android and iOS (a compile-check, not a build)"
bash scripts/cross-check.sh

step "fuzz targets: build each and run it briefly from its seeds"
FUZZ_SECONDS=${FUZZ_SECONDS:-15} bash scripts/fuzz.sh

step "done in $((SECONDS - started)) s"
echo "portcullis: $((rust_passed + carrier_passed + ocsf_passed + bind_passed + ce_passed + jvm_passed + robo_passed)) passed, $((rust_failed + carrier_failed + ocsf_failed + bind_failed + ce_failed + jvm_failed + robo_failed)) failed"
