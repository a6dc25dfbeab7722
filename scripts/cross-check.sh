#!/usr/bin/env bash
# Cross COMPILE-CHECK (not a build) of portcullis-core and portcullis-ffi for the
# mobile targets: aarch64-linux-android and aarch64-apple-ios.
#
# Why: bindings/ has code and dependencies that exist only under
# cfg(target_os = "android") (android_logger) and cfg(target_os = "ios") (oslog).
# A host build never compiles them, and this machine has neither the Android NDK
# nor Xcode. This script runs `cargo check` for both targets so that such code
# failing to compile fails this step (non-zero exit).
#
# How: build scripts (rusqlite's bundled SQLite, ring, oslog) compile C through
# cc-rs; the C compiler and archiver are Zig (PyPI package `ziglang`, pinned
# below and cached) behind the small wrappers in scripts/zig/. See
# docs/cross-check.md.
#
# What it is NOT: a build. The C objects are compiled against the wrong headers
# (musl instead of bionic; Zig's macOS headers and a hand-written os/log.h shim
# instead of the iOS SDK), nothing is linked, and nothing it makes is shipped.
# Real builds are the cargo-ndk (Android) and XCFramework (iOS) scripts, run with
# the NDK and Xcode.
#
# Usage: scripts/cross-check.sh [android] [ios]     (default: both)
# Environment:
#   PORTCULLIS_CACHE_DIR  where Zig is installed (default ~/.cache/portcullis)
#   PORTCULLIS_ZIG_CC_LOG optional file the compiler wrapper logs argv to
set -euo pipefail

ZIGLANG_VERSION="0.15.2"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
zig_dir="$repo/scripts/zig"
cache="${PORTCULLIS_CACHE_DIR:-$HOME/.cache/portcullis}"
target_dir="$repo/target/cross-check"

say() { printf '[cross-check] %s\n' "$*"; }
die() { printf '[cross-check] ERROR: %s\n' "$*" >&2; exit 2; }

# --- which targets -----------------------------------------------------------
targets=()
if (($# == 0)); then
    set -- android ios
fi
for name in "$@"; do
    case "$name" in
        android) targets+=(aarch64-linux-android) ;;
        ios) targets+=(aarch64-apple-ios) ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown target '$name' (expected: android, ios)" ;;
    esac
done

started=$SECONDS
say "cross COMPILE-CHECK, not a build: cargo check only; C objects use stand-in headers, nothing is linked or shipped"

# --- Zig from PyPI, pinned, cached --------------------------------------------
zig_home="$cache/ziglang-$ZIGLANG_VERSION"
zig="$zig_home/ziglang/zig"
if [[ -x "$zig" ]] && [[ "$("$zig" version 2>/dev/null)" == "$ZIGLANG_VERSION" ]]; then
    say "zig $ZIGLANG_VERSION: cached at $zig_home"
else
    command -v python3 >/dev/null || die "python3 is needed to install ziglang with pip"
    say "zig $ZIGLANG_VERSION: installing ziglang==$ZIGLANG_VERSION with pip into $zig_home"
    mkdir -p "$cache"
    tmp="$(mktemp -d "$cache/.ziglang-$ZIGLANG_VERSION.XXXXXX")"
    if ! PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet \
        --disable-pip-version-check --no-deps --target "$tmp" "ziglang==$ZIGLANG_VERSION"; then
        rm -rf "$tmp"
        die "pip install ziglang==$ZIGLANG_VERSION failed"
    fi
    rm -rf "$zig_home"
    # A concurrent run may have won the race; either copy is the same package.
    mv -T "$tmp" "$zig_home" 2>/dev/null || rm -rf "$tmp"
    [[ "$("$zig" version)" == "$ZIGLANG_VERSION" ]] || die "installed zig does not report $ZIGLANG_VERSION"
fi

# --- Rust targets -------------------------------------------------------------
command -v rustup >/dev/null || die "rustup is needed to add the Rust targets"
installed="$(rustup target list --installed)"
for t in "${targets[@]}"; do
    if ! grep -qx "$t" <<<"$installed"; then
        say "rustup target add $t"
        rustup target add "$t" || die "rustup target add $t failed"
    fi
done

# --- environment for cc-rs ----------------------------------------------------
export PORTCULLIS_ZIG="$zig"
export ZIG_GLOBAL_CACHE_DIR="$cache/zig-cache"
export ZIG_LOCAL_CACHE_DIR="$cache/zig-cache"
export CC_aarch64_linux_android="$zig_dir/cc-aarch64-linux-android"
export AR_aarch64_linux_android="$zig_dir/ar"
export CC_aarch64_apple_ios="$zig_dir/cc-aarch64-apple-ios"
export AR_aarch64_apple_ios="$zig_dir/ar"
# cc-rs runs `xcrun --show-sdk-path` for Apple targets unless SDKROOT names an
# existing absolute folder. An empty one stops that; the wrapper drops the
# resulting -isysroot and uses Zig's headers instead.
export SDKROOT="$cache/empty-sdkroot"
mkdir -p "$SDKROOT" "$ZIG_GLOBAL_CACHE_DIR"

# --- cargo check, per target ----------------------------------------------------
failed=()
for t in "${targets[@]}"; do
    say "== $t: cargo check -p portcullis-core -p portcullis-ffi (compile-check, not a build)"
    t0=$SECONDS
    if cargo check --locked --target "$t" --target-dir "$target_dir" \
        --manifest-path "$repo/Cargo.toml" \
        -p portcullis-core -p portcullis-ffi; then
        say "== $t: compile-check OK ($((SECONDS - t0)) s)"
    else
        say "== $t: compile-check FAILED ($((SECONDS - t0)) s)"
        failed+=("$t")
    fi
done

total=$((SECONDS - started))
if ((${#failed[@]})); then
    say "FAILED: cargo check for ${failed[*]} (cross compile-check, ${total} s); see the errors above"
    exit 1
fi
say "OK: ${targets[*]} type-check (cross compile-check, not a build; ${total} s)"
