# Policy fixtures for the binding and Android JVM tests, made by the console tool itself
# with fixed times, so the tests can pass `now` inside their validity (2026-03-01 to
# 2026-04-01; the tests' clocks start on 2026-03-01).
#
#   make_policy_fixtures PORTCULLIS_BINARY OUT_DIR DESCRIPTION
#
# Writes into OUT_DIR (emptied first):
#   root.signed             trust root v1: one root key, one policy key
#   baseline-v1.bundle      policies/baseline.json, version 1, group all-staff, under root v1
#   baseline-v2.bundle      the same, version 2
#   root-v2.signed          a rotation to root v2 under a new root key (signed by old and new)
#   baseline-r2-v3.bundle   the baseline, version 3, signed under root v2
#   spyware-v1.indicators   core/tests/data/spyware-fixture.stix2 as signed collection
#                           "fixture", version 1, under root v1
# and the keys, in root-key/, root-key-2/ and policy-key/.

make_policy_fixtures() {
    local tool="$1" fix="$2" description="$3" version
    rm -rf "$fix" && mkdir -p "$fix" &&
        "$tool" keygen --out "$fix/root-key" >/dev/null &&
        "$tool" keygen --out "$fix/root-key-2" >/dev/null &&
        "$tool" keygen --out "$fix/policy-key" >/dev/null &&
        "$tool" root create --root-key "$fix/root-key/portcullis-signing.pub" \
            --policy-key "$fix/policy-key/portcullis-signing.pub" --description "$description" \
            --out "$fix/root.json" >/dev/null &&
        "$tool" root sign --key "$fix/root-key/portcullis-signing.key" --in "$fix/root.json" \
            --out "$fix/root.signed" >/dev/null &&
        "$tool" root create --root-key "$fix/root-key-2/portcullis-signing.pub" --version 2 \
            --policy-key "$fix/policy-key/portcullis-signing.pub" --description "$description, rotated" \
            --out "$fix/root-v2.json" >/dev/null &&
        "$tool" root sign --key "$fix/root-key/portcullis-signing.key" \
            --key "$fix/root-key-2/portcullis-signing.key" --in "$fix/root-v2.json" \
            --out "$fix/root-v2.signed" >/dev/null || return 1
    for version in 1 2; do
        policy_fixture "$tool" "$fix" root.signed "$version" "baseline-v$version.bundle" || return 1
    done
    policy_fixture "$tool" "$fix" root-v2.signed 3 baseline-r2-v3.bundle &&
        "$tool" indicators sign --key "$fix/policy-key/portcullis-signing.key" \
            --in core/tests/data/spyware-fixture.stix2 --collection fixture --version 1 \
            --root "$fix/root.signed" --issued-at 2026-03-01T00:00:00Z --expires 2026-04-01T00:00:00Z \
            --out "$fix/spyware-v1.indicators" >/dev/null
}

policy_fixture() {
    local tool="$1" fix="$2" root="$3" version="$4" out="$5"
    "$tool" policy sign --key "$fix/policy-key/portcullis-signing.key" --in policies/baseline.json \
        --root "$fix/$root" --version "$version" --group all-staff \
        --issued-at 2026-03-01T00:00:00Z --expires 2026-04-01T00:00:00Z \
        --out "$fix/$out" >/dev/null
}
