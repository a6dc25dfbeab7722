# Policy fixtures for the binding and Android JVM tests, made by the console tool itself
# with fixed times, so the tests can pass `now` inside their validity (2026-03-01 to
# 2026-04-01; the tests' clocks start on 2026-03-01).
#
#   make_policy_fixtures PORTCULLIS_BINARY OUT_DIR DESCRIPTION
#
# Writes into OUT_DIR (emptied first):
#   root.signed             trust root v1: one root key, one policy key, one operations key
#   baseline-v1.bundle      policies/baseline.json, version 1, group all-staff, under root v1
#   baseline-v2.bundle      the same, version 2
#   root-v2.signed          a rotation to root v2 under a new root key (signed by old and new)
#   root-v2-weak.signed     the same rotation signed by the new root key only (refused)
#   baseline-r2-v3.bundle   the baseline, version 3, signed under root v2
#   spyware-v1.indicators   core/tests/data/spyware-fixture.stix2 as signed collection
#                           "fixture", version 1, under root v1
#   shipping-v1.bundle      the baseline with an `upload` section, version 1, under root v1:
#                           collector https://collector.test, receipt key of the Ed25519
#                           seed 0x21 repeated 32 times (the binding tests' stand-in collector)
#   instructions/           signed console instructions for device dev-0001 (group
#                           all-staff), issued 2026-03-01T08:00Z (device-swap-3: 09:20Z),
#                           valid until 2026-03-07T08:00Z:
#     auth-1.instruction        authorize-sim-change, sequence 1, any SIM, until 2026-03-02T08:00Z
#     carrier-swap-2.instruction  carrier-check, SIM Swap `check` answered {"swapped":true}, sequence 2
#     device-swap-3.instruction   carrier-check, Device Swap `retrieve_date` checked at 09:15Z and
#                               answered with a change at 09:10Z (after the tests' enrollment
#                               at 09:00Z), sequence 3
#     lock-5.instruction        lock-now, sequence 5
#     wipe-6.instruction        wipe-device keeping factory-reset protection, sequence 6
#     attest-7.instruction      attest, sequence 7, a fixed 32-byte challenge
#     forged-10.instruction     authorize-sim-change, sequence 10, signed by stray-key (not in the root)
# and the keys, in root-key/, root-key-2/, policy-key/, operations-key/ and stray-key/.

make_policy_fixtures() {
    local tool="$1" fix="$2" description="$3" version
    rm -rf "$fix" && mkdir -p "$fix" &&
        "$tool" keygen --out "$fix/root-key" >/dev/null &&
        "$tool" keygen --out "$fix/root-key-2" >/dev/null &&
        "$tool" keygen --out "$fix/policy-key" >/dev/null &&
        "$tool" keygen --out "$fix/operations-key" >/dev/null &&
        "$tool" keygen --out "$fix/stray-key" >/dev/null &&
        "$tool" root create --root-key "$fix/root-key/portcullis-signing.pub" \
            --policy-key "$fix/policy-key/portcullis-signing.pub" \
            --operations-key "$fix/operations-key/portcullis-signing.pub" --description "$description" \
            --out "$fix/root.json" >/dev/null &&
        "$tool" root sign --key "$fix/root-key/portcullis-signing.key" --in "$fix/root.json" \
            --out "$fix/root.signed" >/dev/null &&
        "$tool" root create --root-key "$fix/root-key-2/portcullis-signing.pub" --version 2 \
            --policy-key "$fix/policy-key/portcullis-signing.pub" \
            --operations-key "$fix/operations-key/portcullis-signing.pub" --description "$description, rotated" \
            --out "$fix/root-v2.json" >/dev/null &&
        "$tool" root sign --key "$fix/root-key/portcullis-signing.key" \
            --key "$fix/root-key-2/portcullis-signing.key" --in "$fix/root-v2.json" \
            --out "$fix/root-v2.signed" >/dev/null &&
        "$tool" root sign --key "$fix/root-key-2/portcullis-signing.key" --in "$fix/root-v2.json" \
            --out "$fix/root-v2-weak.signed" >/dev/null || return 1
    for version in 1 2; do
        policy_fixture "$tool" "$fix" root.signed "$version" "baseline-v$version.bundle" || return 1
    done
    policy_fixture "$tool" "$fix" root-v2.signed 3 baseline-r2-v3.bundle &&
        "$tool" indicators sign --key "$fix/policy-key/portcullis-signing.key" \
            --in core/tests/data/spyware-fixture.stix2 --collection fixture --version 1 \
            --root "$fix/root.signed" --issued-at 2026-03-01T00:00:00Z --expires 2026-04-01T00:00:00Z \
            --out "$fix/spyware-v1.indicators" >/dev/null &&
        make_instruction_fixtures "$tool" "$fix" &&
        shipping_policy_fixture "$tool" "$fix" \
            884b8857f4eaa1613c61504db34d4beaf346517a0e31de3cddd4d9b4201d9d0b \
            https://collector.test "$(printf 'ab%.0s' {1..32})" shipping-v1.bundle
}

# shipping_policy_fixture TOOL FIX RECEIPT_KEY_HEX COLLECTOR_URL CERT_SHA256_HEX OUT: the
# baseline with an `upload` section naming that collector, signed as version 1 under
# root.signed into FIX/OUT (the JSON beside it, OUT without .bundle plus .json).
shipping_policy_fixture() {
    local tool="$1" fix="$2" key="$3" url="$4" pin="$5" out="$6" json="$2/${6%.bundle}.json"
    python3 - "$key" "$url" "$pin" policies/baseline.json "$json" <<'PY' || return 1
import json, sys
key, url, pin, src, dst = sys.argv[1:]
policy = json.load(open(src))
policy["upload"] = {"collectorUrl": url, "certificateSha256": [pin], "receiptKey": key,
                    "intervalMinutes": 30, "maxBatchBytes": 65536, "heartbeatMinutes": 1440}
json.dump(policy, open(dst, "w"), indent=2)
PY
    "$tool" policy sign --key "$fix/policy-key/portcullis-signing.key" --in "$json" \
        --root "$fix/root.signed" --version 1 --group all-staff \
        --issued-at 2026-03-01T00:00:00Z --expires 2026-04-01T00:00:00Z \
        --out "$fix/$out" >/dev/null
}

# make_instruction_fixtures PORTCULLIS_BINARY FIXTURE_DIR: the instructions listed above,
# signed with the operations key of root.signed (and one with the stray key).
make_instruction_fixtures() {
    local tool="$1" fix="$2" out="$2/instructions"
    local ops="$fix/operations-key/portcullis-signing.key"
    mkdir -p "$out" &&
        printf '{"swapped":true}' >"$out/sim-swap-response.json" &&
        printf '{"latestDeviceChange":"2026-03-01T09:10:00Z"}' >"$out/device-swap-response.json" &&
        instruction_fixture "$tool" "$ops" 1 08:00 "$out/auth-1.instruction" \
            --kind authorize-sim-change --until 2026-03-02T08:00:00Z --reason "ticket SEC-4411" &&
        instruction_fixture "$tool" "$ops" 2 08:00 "$out/carrier-swap-2.instruction" \
            --kind carrier-check --api sim_swap --operation check --checked-at 2026-03-01T07:55:00Z \
            --max-age 24 --response "$out/sim-swap-response.json" &&
        instruction_fixture "$tool" "$ops" 3 09:20 "$out/device-swap-3.instruction" \
            --kind carrier-check --api device_swap --operation retrieve_date \
            --checked-at 2026-03-01T09:15:00Z --response "$out/device-swap-response.json" &&
        instruction_fixture "$tool" "$ops" 5 08:00 "$out/lock-5.instruction" --kind lock-now &&
        instruction_fixture "$tool" "$ops" 6 08:00 "$out/wipe-6.instruction" --kind wipe-device --preserve-frp true &&
        instruction_fixture "$tool" "$ops" 7 08:00 "$out/attest-7.instruction" --kind attest \
            --challenge 37636361633165612d343834352d343832652d383538642d6636666139616138 &&
        instruction_fixture "$tool" "$fix/stray-key/portcullis-signing.key" 10 08:00 "$out/forged-10.instruction" \
            --kind authorize-sim-change --until 2026-03-02T08:00:00Z --reason "ticket SEC-9999"
}

instruction_fixture() {
    local tool="$1" key="$2" sequence="$3" issued="2026-03-01T$4:00Z" out="$5"
    shift 5
    "$tool" instruction sign --key "$key" --device dev-0001 --sequence "$sequence" \
        --issued-at "$issued" --expires 2026-03-07T08:00:00Z "$@" --out "$out" >/dev/null
}

policy_fixture() {
    local tool="$1" fix="$2" root="$3" version="$4" out="$5"
    "$tool" policy sign --key "$fix/policy-key/portcullis-signing.key" --in policies/baseline.json \
        --root "$fix/$root" --version "$version" --group all-staff \
        --issued-at 2026-03-01T00:00:00Z --expires 2026-04-01T00:00:00Z \
        --out "$fix/$out" >/dev/null
}
