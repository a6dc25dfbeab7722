"""Python binding tests: load the generated `portcullis_ffi` module and the real Rust library.

Run by scripts/binding-tests.sh, which generates the bindings into
target/bindings/python (module + libportcullis_ffi.so side by side) and points
PORTCULLIS_PY_BINDINGS at that folder. Plain python3: unittest and asyncio only.

    PORTCULLIS_PY_BINDINGS=target/bindings/python python3 tests/bindings/python/test_bindings.py
"""

import asyncio
import datetime
import hashlib
import hmac
import json
import os
import shutil
import sys
import tempfile
import threading
import unittest

_REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
_BINDINGS = os.environ.get(
    "PORTCULLIS_PY_BINDINGS", os.path.join(_REPO, "target", "bindings", "python")
)
sys.path.insert(0, os.path.abspath(_BINDINGS))

# Imported as a module, never with `*`: the bindings export `test_hook_panic`, which a
# test collector would otherwise pick up as a test.
import portcullis_ffi as pf  # noqa: E402

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)

ICCID_A = "8944110012345678901"
ICCID_B = "8944110098765432109"
SECRET = b"portcullis-binding-test-secret-0001"


def at(seconds):
    """T0 plus `seconds`: inputs are fed with increasing times, as a device would."""
    return T0 + datetime.timedelta(seconds=seconds)


def run(coro):
    return asyncio.run(coro)


class HmacKey(pf.DeviceKey):
    """A foreign DeviceKey implemented in Python (what the Keystore/Keychain would do)."""

    def __init__(self, secret=SECRET):
        self._secret = secret
        self.calls = 0

    def hmac_sha256(self, message):
        self.calls += 1
        return hmac.new(self._secret, bytes(message), hashlib.sha256).digest()


class ShortKey(pf.DeviceKey):
    """A broken platform key: returns 16 bytes instead of 32."""

    def hmac_sha256(self, message):
        return hmac.new(SECRET, bytes(message), hashlib.sha256).digest()[:16]


class LockedKey(pf.DeviceKey):
    """A platform key store that refuses to work (e.g. before first unlock)."""

    def hmac_sha256(self, message):
        raise pf.PortcullisError.DeviceKey("key store locked")


class CrashingKey(pf.DeviceKey):
    """A platform key whose implementation throws something unexpected."""

    def hmac_sha256(self, message):
        raise RuntimeError("keystore bug")


class RecordingLogger(pf.Logger):
    def __init__(self):
        self.records = []
        self._lock = threading.Lock()

    def log(self, level, target, message):
        with self._lock:
            self.records.append((level, target, message))

    def snapshot(self):
        with self._lock:
            return list(self.records)


def wifi(on=True):
    return pf.Connectivity(wifi=on, cellular_data=False, airplane_mode=False)


def sim(iccid, slot=0, state=pf.SimState.READY, **kw):
    return pf.SimObservation(slot=slot, state=state, iccid=iccid, **kw)


class AgentTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="portcullis-py-")
        self.db = os.path.join(self.dir, "agent.db")

    def tearDown(self):
        pf.set_logger(None)
        shutil.rmtree(self.dir, ignore_errors=True)

    async def replaced(self, key):
        """Opens an agent, establishes a baseline SIM, then swaps it; returns (agent, alerts)."""
        agent = await pf.Agent.open(self.db, key, at(0))
        self.assertEqual(await agent.handle_connectivity(wifi(), at(1)), [])
        self.assertEqual(await agent.handle_sim(sim(ICCID_A), at(2)), [])
        alerts = await agent.handle_sim(sim(ICCID_B), at(3))
        return agent, alerts

    def assert_sim_replaced(self, alert, when=None):
        self.assertEqual(alert.kind, pf.AlertKind.SIM_REPLACED)
        self.assertEqual(alert.kind_name, "sim_replaced")
        self.assertEqual(alert.severity, pf.Severity.CRITICAL)
        self.assertEqual(alert.slot, 0)
        self.assertEqual(alert.detector, "sim_identity")
        self.assertGreaterEqual(alert.detector_version, 1)
        if when is not None:
            self.assertEqual(alert.at, when)
        # Identifiers never come back: only short keyed-hash prefixes.
        text = repr(alert) + alert.summary + "".join(e.key + e.value for e in alert.evidence)
        for iccid in (ICCID_A, ICCID_B):
            self.assertNotIn(iccid[:10], text)
            self.assertNotIn(iccid[-9:], text)
        evidence = {e.key: e.value for e in alert.evidence}
        self.assertEqual(evidence.get("fields_changed"), "iccid")
        self.assertEqual(len(evidence.get("baseline_iccid_hash", "")), 8)
        self.assertNotEqual(evidence["baseline_iccid_hash"], evidence["observed_iccid_hash"])


class AlertFlowTests(AgentTestCase):
    def test_library_version(self):
        self.assertRegex(pf.library_version(), r"^\d+\.\d+\.\d+")

    def test_sim_replaced_with_foreign_key(self):
        async def body():
            key = HmacKey()
            agent, alerts = await self.replaced(key)
            self.assertGreater(key.calls, 0, "the Python DeviceKey was never called")
            self.assertEqual(len(alerts), 1)
            self.assert_sim_replaced(alerts[0], when=at(3))
            self.assertEqual(alerts[0].delivery_attempts, 0)
            pending = await agent.pending_alerts(10)
            self.assertEqual([a.id for a in pending], [alerts[0].id])
            self.assert_sim_replaced(pending[0], when=at(3))
            self.assertEqual(pending[0].delivery_attempts, 1)

        run(body())

    def test_sim_replaced_with_software_key(self):
        async def body():
            sw = pf.SoftwareDeviceKey(SECRET)
            agent, alerts = await self.replaced(sw)
            self.assertEqual([a.kind_name for a in alerts], ["sim_replaced"])
            pending = await agent.pending_alerts(10)
            self.assertEqual(len(pending), 1)
            self.assert_sim_replaced(pending[0])

        run(body())

    def test_software_key_matches_python_hmac_and_reopens_foreign_enrollment(self):
        async def body():
            sw = pf.SoftwareDeviceKey(SECRET)
            msg = b"portcullis"
            self.assertEqual(sw.hmac_sha256(msg), hmac.new(SECRET, msg, hashlib.sha256).digest())
            # Enrolled with the Python key, reopened with the Rust one holding the same secret.
            agent, _ = await self.replaced(HmacKey())
            del agent
            again = await pf.Agent.open(self.db, sw, at(10))
            self.assertEqual([a.kind_name for a in await again.pending_alerts(10)], ["sim_replaced"])

        run(body())

    def test_software_key_rejects_short_secret(self):
        with self.assertRaises(pf.PortcullisError.InvalidInput) as cm:
            pf.SoftwareDeviceKey(b"short")
        self.assertEqual(cm.exception.field, "device_key")

    def test_ack_stops_redelivery_while_unacked_alerts_return(self):
        async def body():
            agent, alerts = await self.replaced(HmacKey())
            replaced = alerts[0]
            removed = await agent.handle_sim(sim(None, state=pf.SimState.ABSENT), at(4))
            self.assertEqual([a.kind_name for a in removed], ["sim_removed"])
            self.assertEqual(removed[0].severity, pf.Severity.HIGH)

            first = await agent.pending_alerts(10)
            self.assertEqual([a.id for a in first], [replaced.id, removed[0].id])
            self.assertEqual([a.delivery_attempts for a in first], [1, 1])

            self.assertEqual(await agent.ack_alerts([replaced.id], at(5)), 1)
            self.assertEqual(await agent.ack_alerts([replaced.id], at(5)), 0)

            second = await agent.pending_alerts(10)
            self.assertEqual([a.id for a in second], [removed[0].id])
            self.assertEqual(second[0].kind_name, "sim_removed")
            self.assertEqual(second[0].delivery_attempts, 2)

            third = await agent.pending_alerts(10)
            self.assertEqual(third[0].delivery_attempts, 3)
            self.assertEqual(await agent.ack_alerts([removed[0].id, 999_999], at(6)), 1)
            self.assertEqual(await agent.pending_alerts(10), [])

        run(body())

    def test_state_survives_reopen(self):
        async def body():
            key = HmacKey()
            agent, _ = await self.replaced(key)
            del agent
            again = await pf.Agent.open(self.db, key, at(10))
            pending = await again.pending_alerts(10)
            self.assertEqual([a.kind_name for a in pending], ["sim_replaced"])
            # The baseline persisted too: the original SIM coming back raises nothing new.
            self.assertEqual(await again.handle_sim(sim(ICCID_A), at(11)), [])

        run(body())

    def test_aware_datetimes_in_any_zone(self):
        async def body():
            plus2 = datetime.timezone(datetime.timedelta(hours=2))
            agent = await pf.Agent.open(self.db, HmacKey(), at(0).astimezone(plus2))
            await agent.handle_sim(sim(ICCID_A), at(1).astimezone(plus2))
            alerts = await agent.handle_sim(sim(ICCID_B), at(2).astimezone(plus2))
            self.assertEqual(alerts[0].at, at(2))

        run(body())

    def test_concurrent_calls_on_one_agent(self):
        async def body():
            agent, _ = await self.replaced(HmacKey())
            results = await asyncio.gather(*(agent.pending_alerts(10) for _ in range(8)))
            attempts = sorted(r[0].delivery_attempts for r in results)
            self.assertEqual(attempts, list(range(1, 9)))

        run(body())


class JournalTests(AgentTestCase):
    def test_checkpoint_and_one_time_key_export(self):
        async def body():
            agent, alerts = await self.replaced(HmacKey(b"python-journal-secret"))
            self.assertEqual(len(alerts), 1)
            key0 = await agent.journal_key_export()
            self.assertEqual(len(key0), 32)
            pin_key = await agent.pin_key_export()
            self.assertEqual(len(pin_key), 32)
            self.assertNotEqual(pin_key, key0)
            self.assertEqual(await agent.pin_key_export(), pin_key)
            cp = await agent.checkpoint(at(10))
            stored = json.loads(cp.json)
            self.assertEqual(stored["seq"], cp.seq)
            self.assertEqual(cp.epoch, 0)
            self.assertEqual(len(bytes.fromhex(stored["signature"])), 64)
            # Nothing written since: the same checkpoint comes back, the epoch does not move.
            again = await agent.checkpoint(at(11))
            self.assertEqual(again.json, cp.json)
            self.assertTrue(await agent.confirm_journal_key_export())
            self.assertIsNone(await agent.journal_key_export())
            self.assertIsNone(await agent.pin_key_export())
            self.assertFalse(await agent.confirm_journal_key_export())
            # The undelivered alert keeps every record in place.
            self.assertEqual(await agent.prune_journal(at(100)), 0)
            ids = [a.id for a in await agent.pending_alerts(10)]
            self.assertEqual(await agent.ack_alerts(ids, at(20)), 1)
            await agent.checkpoint(at(30))
            self.assertGreater(await agent.prune_journal(at(100)), 0)

        run(body())


class PolicyTests(AgentTestCase):
    def fixture(self, name):
        with open(os.path.join(os.environ["PORTCULLIS_FIXTURES"], name), "rb") as f:
            return f.read()

    def test_enroll_apply_and_refuse_bundles(self):
        async def body():
            agent = await pf.Agent.open(self.db, pf.SoftwareDeviceKey(b"python-policy-secret"), at(0))
            self.assertIsNone(await agent.policy_status())
            with self.assertRaises(pf.PortcullisError.NotEnrolled):
                await agent.apply_policy(self.fixture("baseline-v1.bundle"), at(0))
            await agent.install_trust_root(self.fixture("root.signed"), "dev-0001", ["all-staff"], at(0))
            status = await agent.apply_policy(self.fixture("baseline-v2.bundle"), at(0))
            self.assertEqual(status.version, 2)
            self.assertTrue(status.changed)
            again = await agent.apply_policy(self.fixture("baseline-v2.bundle"), at(1))
            self.assertFalse(again.changed)
            # Rolling back to version 1 is refused with a stable code, and alerted once.
            with self.assertRaises(pf.PortcullisError.PolicyRejected) as cm:
                await agent.apply_policy(self.fixture("baseline-v1.bundle"), at(2))
            self.assertEqual(cm.exception.code, "rollback")
            self.assertEqual((await agent.policy_status()).version, 2)
            # A bundle with one byte flipped is refused too.
            garbled = bytearray(self.fixture("baseline-v2.bundle"))
            garbled[len(garbled) // 2] ^= 0x01
            with self.assertRaises(pf.PortcullisError.PolicyRejected):
                await agent.apply_policy(bytes(garbled), at(3))
            kinds = [a.kind_name for a in await agent.pending_alerts(10)]
            self.assertEqual(kinds, ["policy_refused", "policy_refused"])

        run(body())

    def test_root_rotation_and_redelivery(self):
        async def body():
            agent = await pf.Agent.open(self.db, pf.SoftwareDeviceKey(b"python-rotation-secret"), at(0))
            await agent.install_trust_root(self.fixture("root.signed"), "dev-0001", ["all-staff"], at(0))
            # The root in force, offered again by the managed configuration: no news.
            same = await agent.apply_root_update(self.fixture("root.signed"), at(1))
            self.assertEqual((same.version, same.changed), (1, False))
            rotated = await agent.apply_root_update(self.fixture("root-v2.signed"), at(2))
            self.assertEqual((rotated.version, rotated.changed), (2, True))
            again = await agent.apply_root_update(self.fixture("root-v2.signed"), at(3))
            self.assertEqual((again.version, again.changed), (2, False))
            # The old root is now refused, and bundles signed under it no longer apply.
            with self.assertRaises(pf.PortcullisError.PolicyRejected) as cm:
                await agent.apply_root_update(self.fixture("root.signed"), at(4))
            self.assertTrue(cm.exception.code)
            with self.assertRaises(pf.PortcullisError.PolicyRejected):
                await agent.apply_policy(self.fixture("baseline-v1.bundle"), at(5))
            kinds = [a.kind_name for a in await agent.pending_alerts(10)]
            self.assertEqual(kinds, ["policy_refused", "policy_refused"])

        run(body())


class FixtureTestCase(AgentTestCase):
    """Reads the core's test data and the policy fixtures binding-tests.sh signs."""

    DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "core", "tests", "data")

    def read(self, name):
        with open(os.path.join(self.DATA, name), encoding="utf-8") as f:
            return f.read()

    def fixture(self, name):
        with open(os.path.join(os.environ["PORTCULLIS_FIXTURES"], name), "rb") as f:
            return f.read()


class InspectionTests(FixtureTestCase):

    def test_scheduled_window_scan_and_signed_report(self):
        async def body():
            agent = await pf.Agent.open(self.db, pf.SoftwareDeviceKey(b"python-inspection-secret"), at(0))
            await agent.install_trust_root(self.fixture("root.signed"), "dev-0001", ["all-staff"], at(0))
            await agent.apply_policy(self.fixture("baseline-v1.bundle"), at(0))
            collection = await agent.load_indicators("fixture", self.read("spyware-fixture.stix2"))
            self.assertGreater(collection.indicators, 0)
            await agent.report_conditions(True, True, 120, at(1))
            # Wake the agent when it asks, as the alarm or BGTaskScheduler would (hourly
            # re-reads included: a month of them before the routine window).
            window = None
            for _ in range(2000):
                window = await agent.open_inspection_window()
                if window is not None:
                    break
                wake = agent.next_wakeup()
                self.assertIsNotNone(wake)
                await agent.handle_timeout(wake)
            self.assertIsNotNone(window)
            evidence = evidence_snapshot(json.loads(self.read("spyware-evidence.json")))
            report = await agent.submit_inspection(window.id, evidence, window.opened_at)
            self.assertEqual(report.findings, 14)
            self.assertEqual([a.kind_name for a in report.alerts], ["indicator_match"])
            self.assertEqual(len(bytes.fromhex(report.signature)), 64)
            self.assertEqual(hashlib.sha256(report.report_json.encode()).hexdigest(), report.report_sha256)
            self.assertIsNone(await agent.open_inspection_window())
            bad = pf.EvidenceSnapshot(files=[pf.EvidenceFile(path="/data/x", sha256="00")])
            with self.assertRaises(pf.PortcullisError.InvalidInput) as cm:
                await agent.submit_inspection(None, bad, at(5))
            self.assertEqual(cm.exception.field, "files[0].sha256")

        run(body())


class TelemetryTests(FixtureTestCase):
    def test_log_batches_raise_matches_and_detections_at_event_times(self):
        async def body():
            agent = await pf.Agent.open(self.db, pf.SoftwareDeviceKey(b"python-telemetry-secret"), at(0))
            await agent.load_indicators("fixture", self.read("spyware-fixture.stix2"))
            # Without a policy, neither log is asked for.
            logging = await agent.telemetry_logging()
            self.assertEqual((logging.network_logging, logging.security_logging), (False, False))
            events = [
                pf.TelemetryLogEvent.DNS(pf.DnsLogEvent(
                    at=at(10), package="com.example.mail", host="example.org", addresses=["192.0.2.1"])),
                pf.TelemetryLogEvent.DNS(pf.DnsLogEvent(
                    at=at(20), package="com.example.game", host="api.update-cdn-service.com", addresses=[])),
                pf.TelemetryLogEvent.CONNECT(pf.ConnectLogEvent(
                    at=at(30), package="com.example.game", address="203.0.113.66", port=443)),
                pf.TelemetryLogEvent.SECURITY(pf.SecurityLogEvent.OS_STARTUP(
                    at=at(40), verified_boot_state=pf.VerifiedBootState.ORANGE,
                    dm_verity=pf.DmVerityMode.ENFORCING)),
            ]
            result = await agent.ingest_telemetry(events, at(60))
            self.assertEqual((result.dns_events, result.connect_events, result.security_events), (2, 1, 1))
            self.assertEqual(result.matches, 2)
            self.assertEqual(
                [(a.kind_name, a.at) for a in result.alerts],
                [("indicator_match", at(20)), ("indicator_match", at(30)), ("boot_state_degraded", at(40))],
            )
            evidence = {e.key: e.value for e in result.alerts[0].evidence}
            self.assertEqual(evidence["package"], "com.example.game")
            self.assertEqual(evidence["source"], "network_log")
            self.assertEqual(result.alerts[2].kind, pf.AlertKind.BOOT_STATE_DEGRADED)
            # The batch's outcome for the console, built by the library.
            self.assertEqual(result.console.key, "portcullis.telemetry")
            self.assertEqual(result.console.severity, pf.ConsoleSeverity.ERROR)
            data = json.loads(result.console.data)
            self.assertEqual((data["type"], data["matches"], data["alerts"]), ("telemetry", 2, 3))
            # A bad address is refused naming the field, never echoing the value.
            bad = [pf.TelemetryLogEvent.CONNECT(pf.ConnectLogEvent(
                at=at(70), package="com.x", address="+4915112345678", port=1))]
            with self.assertRaises(pf.PortcullisError.InvalidInput) as caught:
                await agent.ingest_telemetry(bad, at(80))
            self.assertIn("events[0].address", str(caught.exception))
            self.assertNotIn("4915112345678", str(caught.exception))

        run(body())


class ComplianceTests(FixtureTestCase):
    def setUp(self):
        super().setUp()
        self.violations = compliance_snapshot(
            json.loads(self.read(os.path.join("compliance", "pixel-violations.json")))
        )

    async def enrolled(self, secret):
        agent = await pf.Agent.open(self.db, pf.SoftwareDeviceKey(secret), at(0))
        await agent.install_trust_root(self.fixture("root.signed"), "dev-0001", ["all-staff"], at(0))
        await agent.apply_policy(self.fixture("baseline-v1.bundle"), at(0))
        return agent

    def test_outcomes_the_core_gives_for_actions_the_platform_does_not_carry_out(self):
        wipe = pf.Remediation.WIPE_DEVICE(preserve_frp=True)
        action = lambda route, reason=None: pf.RemediationAction(route=route, rule=None, action=wipe, not_possible=reason)
        self.assertIsNone(pf.remediation_outcome_without_agent(action(pf.ActionRoute.AGENT)))
        self.assertEqual(pf.remediation_outcome_without_agent(action(pf.ActionRoute.MDM)), pf.ActionOutcome.HANDED_TO_MDM())
        not_possible = pf.remediation_outcome_without_agent(action(pf.ActionRoute.NOT_POSSIBLE, pf.NotPossibleReason.API_LEVEL))
        self.assertEqual(not_possible, pf.ActionOutcome.NOT_POSSIBLE(reason="not possible on this device: API_LEVEL"))
        self.assertEqual(pf.mdm_publication_outcome(pf.ChannelOutcome.SENT()), pf.ActionOutcome.HANDED_TO_MDM())
        self.assertIsInstance(pf.mdm_publication_outcome(pf.ChannelOutcome.NO_RECEIVER()), pf.ActionOutcome.NOT_POSSIBLE)
        self.assertIsNone(pf.mdm_publication_outcome(pf.ChannelOutcome.TOO_LARGE()))

    def test_snapshot_verdicts_alerts_and_actions(self):
        async def body():
            agent = await self.enrolled(b"python-compliance-secret")
            report = await agent.evaluate_compliance(self.violations, at(10))
            self.assertFalse(report.compliant)
            self.assertGreater(report.open_rules, 0)
            violation = [a for a in report.alerts if a.kind == pf.AlertKind.COMPLIANCE_VIOLATION]
            self.assertTrue(violation)
            self.assertTrue(all(isinstance(a.severity, pf.Severity) for a in report.alerts))
            # Typed verdicts: the blocked remote-access app is non-compliant for APP_INSTALLED.
            anydesk = [v for v in report.verdicts
                       if v.rule == pf.RuleRef.APP(id="com.anydesk.anydeskandroid")]
            self.assertEqual(len(anydesk), 1)
            self.assertEqual(anydesk[0].status, pf.VerdictStatus.NON_COMPLIANT)
            self.assertIn(pf.ReasonCode.APP_INSTALLED, anydesk[0].reasons)
            self.assertEqual(pf.rule_text(anydesk[0].rule), "app:com.anydesk.anydeskandroid")
            self.assertEqual(pf.reason_text(pf.ReasonCode.APP_INSTALLED), "APP_INSTALLED")
            self.assertEqual(report.open_rules,
                             sum(v.status in (pf.VerdictStatus.NON_COMPLIANT, pf.VerdictStatus.UNKNOWN)
                                 for v in report.verdicts))
            # Typed actions: a device owner suspends the app and removes the CA certificate.
            actions = await agent.take_actions(at(11))
            self.assertTrue(all(isinstance(a.route, pf.ActionRoute) for a in actions))
            suspend = pf.Remediation.APPLY(measure=pf.Measure.PACKAGE_SUSPENDED(package="com.anydesk.anydeskandroid"))
            self.assertIn(suspend, [a.action for a in actions])
            certs = [a.action for a in actions if isinstance(a.action, pf.Remediation.REMOVE_CA_CERT)]
            self.assertEqual([c.sha256 for c in certs], ["d41d8cd98f00b204e9800998ecf8427ed41d8cd98f00b204e9800998ecf8427e"])
            self.assertEqual(await agent.take_actions(at(12)), [])
            again = await agent.evaluate_compliance(self.violations, at(20))
            self.assertEqual(again.alerts, [])

        run(body())

    def test_limits_are_the_cores_and_name_the_field(self):
        async def body():
            agent = await pf.Agent.open(self.db, pf.SoftwareDeviceKey(b"python-compliance-limits"), at(0))
            with self.assertRaises(pf.PortcullisError.NoPolicy):
                await agent.evaluate_compliance(self.violations, at(1))
            await agent.install_trust_root(self.fixture("root.signed"), "dev-0001", ["all-staff"], at(0))
            await agent.apply_policy(self.fixture("baseline-v1.bundle"), at(0))
            many = [("%02x" % i) * 32 for i in range(17)]
            self.violations.apps[2].signing_certs_sha256 = many
            with self.assertRaises(pf.PortcullisError.InvalidInput) as cm:
                await agent.evaluate_compliance(self.violations, at(10))
            self.assertEqual(cm.exception.field, "apps[2].signingCertsSha256")
            self.assertIn("16", cm.exception.reason)
            self.violations.apps[2].signing_certs_sha256 = ["not hex"]
            with self.assertRaises(pf.PortcullisError.InvalidInput) as cm:
                await agent.evaluate_compliance(self.violations, at(10))
            self.assertEqual(cm.exception.field, "apps[2].signingCertsSha256[0]")
            # Nothing was judged or queued by the refused snapshots.
            self.assertEqual(await agent.take_actions(at(11)), [])
            self.assertEqual(await agent.pending_alerts(10), [])

        run(body())


def _enum(cls, text):
    return getattr(cls, text) if text is not None else None


def compliance_snapshot(d):
    """The fixture's JSON snapshot as the typed record a platform fills."""
    os_ = d.get("os", {})
    st = d.get("settings", {})
    vpn = st.get("alwaysOnVpn")
    return pf.ComplianceSnapshot(
        platform=_enum(pf.Platform, d["platform"].upper()),
        device_owner=d.get("deviceOwner", False),
        collected_at=None,
        os=pf.SnapshotOs(api_level=os_.get("apiLevel"), version=os_.get("version"),
                         security_patch_level=os_.get("securityPatchLevel")),
        settings=pf.SnapshotSettings(
            password_complexity=_enum(pf.PasswordComplexity, st.get("passwordComplexity")),
            maximum_failed_passwords_for_wipe=st.get("maximumFailedPasswordsForWipe"),
            maximum_time_to_lock=st.get("maximumTimeToLock"),
            encryption=_enum(pf.EncryptionStatus, st.get("encryption")),
            unknown_sources_allowed=st.get("unknownSourcesAllowed"),
            developer_options_enabled=st.get("developerOptionsEnabled"),
            verify_apps_enabled=st.get("verifyAppsEnabled"),
            usb_debugging_enabled=st.get("usbDebuggingEnabled"),
            wireless_debugging_enabled=st.get("wirelessDebuggingEnabled"),
            cellular_2g_enabled=st.get("cellular2gEnabled"),
            mobile_networks_config_disabled=st.get("mobileNetworksConfigDisabled"),
            usb_data_access=_enum(pf.UsbDataAccess, st.get("usbDataAccess")),
            always_on_vpn=None if vpn is None else pf.SnapshotVpn(
                package_name=vpn.get("packageName"), lockdown_enabled=vpn.get("lockdownEnabled", False)),
            user_ca_certs_sha256=st.get("userCaCertsSha256"),
            accessibility_services=None if "accessibilityServices" not in st else [
                pf.SnapshotAccessibilityService(package_name=a["packageName"], system=a.get("system", False))
                for a in st["accessibilityServices"]],
        ),
        apps=None if "apps" not in d else [
            pf.SnapshotApp(
                id=a["id"], version_code=a.get("versionCode"), system=a.get("system", False),
                install_source=None if "installSource" not in a else pf.SnapshotInstallSource(
                    installing_package_name=a["installSource"].get("installingPackageName")),
                signing_certs_sha256=a.get("signingCertsSha256", []))
            for a in d["apps"]],
        agent=None if "agent" not in d else pf.SnapshotAgent(
            package_name=d["agent"]["packageName"], uninstall_blocked=d["agent"].get("uninstallBlocked")),
    )


def evidence_snapshot(d):
    """The fixture's JSON evidence as the typed record a platform fills."""
    def certs(items):
        return [pf.EvidenceCertificate(**c) for c in items]

    def components(items):
        # `class` is a Python keyword: the generated record names the field `_class`.
        return [pf.EvidenceComponent(package=c["package"], _class=c.get("class")) for c in items]

    def contacts(items):
        return [pf.EvidenceContact(value=c["value"], source=c.get("source")) for c in items]

    return pf.EvidenceSnapshot(
        platform=_enum(pf.Platform, d.get("platform", "").upper() or None),
        packages=[pf.EvidencePackage(**{**p, "certificates": certs(p.get("certificates", []))})
                  for p in d.get("packages", [])],
        accessibility_services=components(d.get("accessibility_services", [])),
        device_admins=components(d.get("device_admins", [])),
        notification_listeners=components(d.get("notification_listeners", [])),
        vpn=[pf.EvidenceVpn(**v) for v in d.get("vpn", [])],
        private_dns=d.get("private_dns"),
        user_ca_certificates=certs(d.get("user_ca_certificates", [])),
        system_properties=[pf.EvidenceProperty(**p) for p in d.get("system_properties", [])],
        settings=[pf.EvidenceSetting(**x) for x in d.get("settings", [])],
        files=[pf.EvidenceFile(**f) for f in d.get("files", [])],
        processes=[pf.EvidenceProcess(**x) for x in d.get("processes", [])],
        domains=contacts(d.get("domains", [])),
        urls=contacts(d.get("urls", [])),
        ip_addresses=contacts(d.get("ip_addresses", [])),
        email_addresses=contacts(d.get("email_addresses", [])),
    )


class InstructionTests(FixtureTestCase):
    """Signed console instructions (fixtures signed by binding-tests.sh with the console tool)."""

    def instruction(self, name):
        return self.fixture(os.path.join("instructions", name))

    async def enrolled(self, secret):
        """An agent enrolled as dev-0001 with a baseline SIM in slot 0."""
        agent = await pf.Agent.open(self.db, pf.SoftwareDeviceKey(secret), at(0))
        await agent.install_trust_root(self.fixture("root.signed"), "dev-0001", ["all-staff"], at(0))
        await agent.handle_connectivity(wifi(), at(1))
        self.assertEqual(await agent.handle_sim(sim(ICCID_A), at(2)), [])
        return agent

    def test_signed_authorisation_opens_a_window_the_new_sim_uses(self):
        async def body():
            agent = await self.enrolled(b"python-instruction-auth")
            result = await agent.apply_instruction(self.instruction("auth-1.instruction"), at(10))
            self.assertIsInstance(result, pf.InstructionResult.APPLIED)
            self.assertEqual(result.kind, pf.InstructionKind.AUTHORIZE_SIM_CHANGE)
            self.assertEqual(result.kind_name, "authorize_sim_change")
            self.assertEqual(result.sequence, 1)
            self.assertEqual(result.actions, [])
            # The security team sees the window at once, not only when a SIM arrives.
            self.assertEqual([a.kind_name for a in result.alerts], ["sim_change_window_opened"])
            self.assertEqual(result.alerts[0].kind, pf.AlertKind.SIM_CHANGE_WINDOW_OPENED)
            self.assertEqual(await agent.instruction_sequence(), 1)
            # The replacement inside the window becomes the baseline: no sim_replaced.
            kinds = [a.kind_name for a in await agent.handle_sim(sim(ICCID_B), at(20))]
            self.assertNotIn("sim_replaced", kinds)
            self.assertIn("sim_change_authorized", kinds)
            self.assertEqual(await agent.handle_sim(sim(ICCID_B), at(30)), [])
            # The same envelope again (a managed configuration redelivering it) is no news.
            again = await agent.apply_instruction(self.instruction("auth-1.instruction"), at(40))
            self.assertIsInstance(again, pf.InstructionResult.UNCHANGED)
            self.assertEqual(again.sequence, 1)

        run(body())

    def test_signed_carrier_checks_raise_sim_and_device_swaps(self):
        async def body():
            agent = await self.enrolled(b"python-instruction-carrier")
            swap = await agent.apply_instruction(self.instruction("carrier-swap-2.instruction"), at(10))
            self.assertIsInstance(swap, pf.InstructionResult.APPLIED)
            self.assertEqual(swap.kind, pf.InstructionKind.CARRIER_CHECK)
            self.assertIn("carrier_reported_swap", [a.kind_name for a in swap.alerts])
            device = await agent.apply_instruction(self.instruction("device-swap-3.instruction"), at(1800))
            self.assertIsInstance(device, pf.InstructionResult.APPLIED)
            kinds = [a.kind_name for a in device.alerts]
            self.assertIn("carrier_reported_device_swap", kinds)
            found = next(a for a in device.alerts if a.kind == pf.AlertKind.CARRIER_REPORTED_DEVICE_SWAP)
            evidence = {e.key: e.value for e in found.evidence}
            self.assertEqual(evidence.get("api"), "device_swap")
            self.assertEqual(await agent.instruction_sequence(), 3)

        run(body())

    def test_forged_instruction_is_refused_and_the_guard_stays_armed(self):
        async def body():
            agent = await self.enrolled(b"python-instruction-forged")
            result = await agent.apply_instruction(self.instruction("forged-10.instruction"), at(10))
            self.assertIsInstance(result, pf.InstructionResult.REFUSED)
            self.assertIn(result.code, ("unknown_key", "bad_signature"))
            self.assertEqual([a.kind_name for a in result.alerts], ["instruction_refused"])
            self.assertEqual(result.alerts[0].kind, pf.AlertKind.INSTRUCTION_REFUSED)
            # Offered again, it is refused again without a second alert.
            again = await agent.apply_instruction(self.instruction("forged-10.instruction"), at(11))
            self.assertIsInstance(again, pf.InstructionResult.REFUSED)
            self.assertEqual(again.alerts, [])
            self.assertEqual(await agent.instruction_sequence(), 0)
            alerts = await agent.handle_sim(sim(ICCID_B), at(20))
            replaced = [a for a in alerts if a.kind_name == "sim_replaced"]
            self.assertEqual(len(replaced), 1)
            self.assertEqual(replaced[0].severity, pf.Severity.CRITICAL)

        run(body())

    def test_lock_now_is_handed_once_and_its_outcome_reported(self):
        async def body():
            agent = await self.enrolled(b"python-instruction-lock")
            result = await agent.apply_instruction(self.instruction("lock-5.instruction"), at(10))
            self.assertIsInstance(result, pf.InstructionResult.APPLIED)
            self.assertEqual(result.kind, pf.InstructionKind.LOCK_NOW)
            self.assertEqual(len(result.actions), 1)
            handed = result.actions[0]
            self.assertTrue(handed.action.is_lock_now())
            self.assertEqual(handed.route, pf.ActionRoute.AGENT)
            self.assertEqual(handed.sequence, 5)
            self.assertEqual(await agent.actions_awaiting_outcome(), [handed])
            # Handed once: the redelivered envelope hands nothing out again.
            again = await agent.apply_instruction(self.instruction("lock-5.instruction"), at(11))
            self.assertIsInstance(again, pf.InstructionResult.UNCHANGED)
            alerts = await agent.report_action_outcome(handed.action_id, pf.ActionOutcome.CARRIED_OUT(), at(12))
            self.assertEqual([a.kind_name for a in alerts], ["instruction_outcome"])
            self.assertEqual(alerts[0].severity, pf.Severity.INFO)
            evidence = {e.key: e.value for e in alerts[0].evidence}
            self.assertEqual(evidence.get("action"), "lock_now")
            self.assertEqual(evidence.get("outcome"), "carried_out")
            self.assertEqual(await agent.actions_awaiting_outcome(), [])
            with self.assertRaises(pf.PortcullisError.InvalidInput):
                await agent.report_action_outcome(handed.action_id, pf.ActionOutcome.CARRIED_OUT(), at(13))

        run(body())

    def test_managed_list_applies_in_sequence_order_and_redelivery_is_no_news(self):
        async def body():
            agent = await self.enrolled(b"python-instruction-list")
            envelopes = [self.instruction("lock-5.instruction"), self.instruction("auth-1.instruction")]
            results = await agent.apply_instruction_list(envelopes, at(10))
            self.assertEqual([type(r) for r in results], [pf.InstructionResult.APPLIED] * 2)
            self.assertEqual([r.sequence for r in results], [1, 5])
            again = await agent.apply_instruction_list(envelopes, at(20))
            self.assertEqual([type(r) for r in again], [pf.InstructionResult.UNCHANGED] * 2)
            # Sequence 2 after 5 is a replay, even though it was never seen.
            late = await agent.apply_instruction_list([self.instruction("carrier-swap-2.instruction")], at(30))
            self.assertIsInstance(late[0], pf.InstructionResult.REFUSED)
            self.assertEqual(late[0].code, "replayed")

        run(body())

    def test_instruction_without_trust_root_is_an_error(self):
        async def body():
            agent = await pf.Agent.open(self.db, pf.SoftwareDeviceKey(b"python-instruction-noroot"), at(0))
            with self.assertRaises(pf.PortcullisError.NotEnrolled):
                await agent.apply_instruction(self.instruction("auth-1.instruction"), at(1))

        run(body())


class ManagedConfigSyncTests(FixtureTestCase):
    """The policy-sync scenario of core/tests/managed_config_sync.rs, through the bindings."""

    def config(self, root, bundle, **kw):
        text = lambda name: self.fixture(name).decode("utf-8")
        return pf.ManagedConfigValues(
            trust_root="  " + text(root) + "\n",
            device_id="dev-0001",
            device_groups=" all-staff, ,all-staff",
            policy_bundle=text(bundle),
            indicator_collections=[text("spyware-v1.indicators")],
            instructions=[text("instructions/auth-1.instruction")],
            console_endpoint=kw.get("endpoint"),
            not_text=[],
        )

    async def refused_alerts(self, agent, when):
        alerts = await agent.pending_alerts(50)
        await agent.ack_alerts([a.id for a in alerts], when)
        return [a.kind_name for a in alerts if a.kind_name == "policy_refused"]

    def console(self, sync):
        data = json.loads(sync.console.data)
        self.assertEqual(sync.console.key, "portcullis.policy")
        self.assertEqual(data["format"], "portcullis/console/v1")
        self.assertLessEqual(len(sync.console.data.encode("utf-16-le")) // 2, 1000)
        return data

    def test_enrollment_rotation_refusals_and_redelivery(self):
        async def body():
            agent = await pf.Agent.open(self.db, pf.SoftwareDeviceKey(b"python-sync-secret"), at(0))
            # Enrollment: root, bundle, indicators and instructions in one call.
            sync = await agent.sync_managed_config(self.config("root.signed", "baseline-v2.bundle"), at(1))
            self.assertEqual(sync.trust_root, pf.RootSync.INSTALLED(version=1))
            self.assertIsInstance(sync.policy, pf.BundleSync.APPLIED)
            self.assertEqual(sync.policy.policy.version, 2)
            self.assertIsInstance(sync.indicators[0], pf.IndicatorSync.IN_USE)
            self.assertIsInstance(sync.instructions, pf.InstructionsSync.APPLIED)
            self.assertIsInstance(sync.instructions.results[0], pf.InstructionResult.APPLIED)
            self.assertFalse(sync.is_error)
            self.assertEqual(self.console(sync)["state"], "applied")
            self.assertEqual(sync.console.severity, pf.ConsoleSeverity.INFO)
            self.assertEqual(await self.refused_alerts(agent, at(1)), [])

            # Redelivery: unchanged everywhere, nothing raised.
            sync = await agent.sync_managed_config(self.config("root.signed", "baseline-v2.bundle"), at(2))
            self.assertEqual(sync.trust_root, pf.RootSync.UNCHANGED(version=1))
            self.assertIsInstance(sync.policy, pf.BundleSync.UNCHANGED)
            self.assertIsInstance(sync.instructions.results[0], pf.InstructionResult.UNCHANGED)
            self.assertEqual(self.console(sync)["state"], "in_force")
            self.assertEqual(await self.refused_alerts(agent, at(2)), [])

            # A rolled-back bundle: refused and alerted once, then remembered.
            for remembered, alerts in ((False, ["policy_refused"]), (True, [])):
                sync = await agent.sync_managed_config(self.config("root.signed", "baseline-v1.bundle"), at(3))
                self.assertIsInstance(sync.policy, pf.BundleSync.REFUSED)
                self.assertEqual((sync.policy.refusal.code, sync.policy.refusal.remembered), ("rollback", remembered))
                self.assertEqual(sync.in_force.version, 2)
                self.assertTrue(sync.is_error)
                self.assertEqual(sync.console.severity, pf.ConsoleSeverity.ERROR)
                self.assertEqual(sync.console.message, "policy_bundle refused: rollback (policy version 2 stays in force)")
                self.assertEqual(await self.refused_alerts(agent, at(3)), alerts)

            # A refused root (the rotation signed by the new root key only).
            for remembered, alerts in ((False, ["policy_refused"]), (True, [])):
                sync = await agent.sync_managed_config(self.config("root-v2-weak.signed", "baseline-v2.bundle"), at(4))
                self.assertIsInstance(sync.trust_root, pf.RootSync.REFUSED)
                self.assertEqual(sync.trust_root.refusal.remembered, remembered)
                data = self.console(sync)
                self.assertEqual((data["state"], data["input"]), ("rejected", "trust_root"))
                self.assertEqual(await self.refused_alerts(agent, at(4)), alerts)

            # The rotation and the bundle signed under it.
            sync = await agent.sync_managed_config(self.config("root-v2.signed", "baseline-r2-v3.bundle"), at(5))
            self.assertIsInstance(sync.trust_root, pf.RootSync.ROTATED)
            self.assertEqual((sync.trust_root.from_version, sync.trust_root.to_version), (1, 2))
            self.assertEqual(sync.policy.policy.version, 3)
            self.assertIn("trust root rotated to version 2", sync.console.message)
            # The collection signed under the old root is refused now (the one loaded stays in use).
            self.assertIsInstance(sync.indicators[0], pf.IndicatorSync.REFUSED)
            self.assertFalse(sync.indicators[0].refusal.remembered)
            self.assertEqual(await self.refused_alerts(agent, at(5)), ["policy_refused"])

            sync = await agent.sync_managed_config(self.config("root-v2.signed", "baseline-r2-v3.bundle"), at(6))
            self.assertEqual(sync.trust_root, pf.RootSync.UNCHANGED(version=2))
            self.assertIsInstance(sync.policy, pf.BundleSync.UNCHANGED)
            self.assertTrue(sync.indicators[0].refusal.remembered)
            self.assertEqual(await self.refused_alerts(agent, at(6)), [])

        run(body())

    def test_console_messages_for_alerts_and_failures(self):
        async def body():
            path = os.path.join(self.dir, "sync.db")
            agent = await pf.Agent.open(path, pf.SoftwareDeviceKey(b"python-console-secret"), at(0))
            sync = await agent.sync_managed_config(
                pf.ManagedConfigValues(
                    trust_root=None, device_id=None, device_groups=None, policy_bundle=None,
                    indicator_collections=[], instructions=[], console_endpoint="http://x", not_text=["device_id"],
                ),
                at(1),
            )
            self.assertEqual([p.key for p in sync.problems], ["device_id", "console_endpoint"])
            self.assertEqual(self.console(sync)["state"], "no_bundle")
            _, alerts = await self.replaced(pf.SoftwareDeviceKey(b"python-console-secret-2"))
            message = pf.console_alert(alerts[0])
            self.assertTrue(message.key.startswith("portcullis.alert."))
            self.assertEqual(message.severity, pf.ConsoleSeverity.ERROR)
            data = json.loads(message.data)
            self.assertEqual((data["type"], data["kind"], data["severity"]), ("alert", "sim_replaced", "critical"))
            failed = pf.console_policy_sync_failed("Storage", at(2))
            self.assertEqual(json.loads(failed.data)["state"], "failed")

        run(body())


class ErrorTests(AgentTestCase):
    def test_reopen_with_different_key_is_refused(self):
        async def body():
            await pf.Agent.open(self.db, HmacKey(), at(0))
            with self.assertRaises(pf.PortcullisError.DeviceKey) as cm:
                await pf.Agent.open(self.db, HmacKey(b"another-device-secret-0002"), at(1))
            self.assertIn("different device key", cm.exception.reason)
            with self.assertRaises(pf.PortcullisError.DeviceKey):
                await pf.Agent.open(self.db, pf.SoftwareDeviceKey(b"another-device-secret-0002"), at(1))
            # The right key still opens it.
            await pf.Agent.open(self.db, HmacKey(), at(2))

        run(body())

    def test_invalid_slot(self):
        async def body():
            agent = await pf.Agent.open(self.db, HmacKey(), at(0))
            with self.assertRaises(pf.PortcullisError.InvalidInput) as cm:
                await agent.handle_sim(sim(ICCID_A, slot=9), at(1))
            reason = cm.exception.reason
            self.assertIn("slot", reason)
            self.assertNotIn(ICCID_A[:8], reason + str(cm.exception))
            with self.assertRaises(pf.PortcullisError.InvalidInput):
                await agent.handle_service(
                    pf.ServiceObservation(slot=9, state=pf.ServiceState.IN_SERVICE), at(1)
                )
            # Platform ints outside the slot range are refused by the core, not wrapped.
            for bad in (256, -1):
                with self.assertRaises(pf.PortcullisError.InvalidInput):
                    await agent.handle_sim(sim(ICCID_A, slot=bad), at(1))
            # Nothing was applied: only the first re-read, due since enrollment.
            self.assertEqual(await agent.pending_alerts(10), [])
            self.assertEqual(agent.next_wakeup(), at(0))

        run(body())

    def test_malformed_identifiers_are_not_echoed(self):
        async def body():
            agent = await pf.Agent.open(self.db, HmacKey(), at(0))
            await agent.handle_sim(sim(ICCID_A), at(1))
            bad = "89441100777755553X1"
            with self.assertRaises(pf.PortcullisError.InvalidInput) as cm:
                await agent.handle_sim(sim(bad), at(2))
            text = cm.exception.reason + str(cm.exception) + repr(cm.exception)
            self.assertIn("iccid", text)
            for digits in ("89441100", "7777", "5555"):
                self.assertNotIn(digits, text)
            with self.assertRaises(pf.PortcullisError.InvalidInput) as cm:
                await agent.handle_sim(sim(ICCID_A, imsi="2341501234567890123"), at(3))
            self.assertIn("imsi", cm.exception.field)
            self.assertNotIn("234150123", cm.exception.reason)
            # A refused observation changed nothing: the baseline SIM is still in place.
            self.assertEqual(await agent.handle_sim(sim(ICCID_A), at(4)), [])
            self.assertEqual(await agent.pending_alerts(10), [])

        run(body())

    def test_key_returning_wrong_length(self):
        async def body():
            with self.assertRaises(pf.PortcullisError.DeviceKey) as cm:
                await pf.Agent.open(self.db, ShortKey(), at(0))
            self.assertIn("16 bytes", cm.exception.reason)

        run(body())

    def test_key_errors_from_the_platform(self):
        async def body():
            with self.assertRaises(pf.PortcullisError.DeviceKey) as cm:
                await pf.Agent.open(self.db, LockedKey(), at(0))
            self.assertIn("key store locked", cm.exception.reason)
            # The variant names the failure once; the reason carries only the platform's words.
            self.assertNotIn("device key", cm.exception.reason)
            with self.assertRaises(pf.PortcullisError.DeviceKey) as cm:
                await pf.Agent.open(self.db, CrashingKey(), at(0))
            self.assertIn("keystore bug", cm.exception.reason)
            # Nothing was enrolled by the failed opens: a good key enrolls now.
            agent = await pf.Agent.open(self.db, HmacKey(), at(1))
            self.assertEqual(await agent.pending_alerts(10), [])

        run(body())

    def test_panic_becomes_an_exception_and_the_agent_keeps_working(self):
        async def body():
            agent, _ = await self.replaced(HmacKey())
            with self.assertRaises(pf.InternalError) as cm:
                pf.test_hook_panic("boom from python")
            self.assertIn("boom from python", str(cm.exception))
            # Same process, same agent: still usable.
            pending = await agent.pending_alerts(10)
            self.assertEqual([a.kind_name for a in pending], ["sim_replaced"])
            self.assertEqual(await agent.ack_alerts([pending[0].id], at(20)), 1)
            with self.assertRaises(pf.InternalError):
                pf.test_hook_panic("second")
            self.assertEqual(await agent.handle_sim(sim(ICCID_A), at(21)), [])

        run(body())


class LoggerAndWakeupTests(AgentTestCase):
    def test_foreign_logger_receives_records(self):
        async def body():
            logger = RecordingLogger()
            pf.set_logger(logger)
            await self.replaced(HmacKey())
            pf.set_logger(None)
            records = logger.snapshot()
            messages = [m for _, _, m in records]
            self.assertIn((pf.LogLevel.INFO, "portcullis: device enrolled"),
                          [(lvl, m) for lvl, _, m in records])
            warns = [m for lvl, _, m in records if lvl == pf.LogLevel.WARN]
            self.assertTrue(any("sim_replaced" in m for m in warns), records)
            self.assertTrue(all(t.startswith("portcullis") for _, t, _ in records), records)
            for m in messages:
                self.assertNotIn(ICCID_A[:10], m)
                self.assertNotIn(ICCID_B[:10], m)
            # After set_logger(None) nothing more arrives here.
            other = os.path.join(self.dir, "other.db")
            await pf.Agent.open(other, HmacKey(), at(0))
            self.assertEqual(len(logger.snapshot()), len(records))

        run(body())

    def test_next_wakeup_follows_port_out_suspicion(self):
        async def body():
            agent = await pf.Agent.open(self.db, HmacKey(), at(0))
            self.assertEqual(agent.next_wakeup(), at(0), "never re-read: due at once")
            woken = await agent.wake(at(0), None)
            self.assertTrue(woken.duties.reread_radio)
            reread = at(0) + datetime.timedelta(minutes=60)
            self.assertEqual(woken.next_wakeup, reread)
            await agent.handle_connectivity(wifi(), at(1))
            await agent.handle_sim(sim(ICCID_A), at(2))
            await agent.handle_service(
                pf.ServiceObservation(slot=0, state=pf.ServiceState.IN_SERVICE, rat=pf.Rat.LTE), at(3)
            )
            self.assertEqual(agent.next_wakeup(), reread, "only the re-read")

            # Service lost while the SIM is unchanged and Wi-Fi is up: a port-out may be under way.
            await agent.handle_service(
                pf.ServiceObservation(slot=0, state=pf.ServiceState.EMERGENCY_ONLY), at(60)
            )
            wake = agent.next_wakeup()
            self.assertEqual(wake, at(60) + datetime.timedelta(minutes=10))

            self.assertEqual(await agent.handle_timeout(wake - datetime.timedelta(seconds=1)), [])
            fired = await agent.handle_timeout(wake)
            self.assertEqual([a.kind_name for a in fired], ["port_out_suspected"])
            self.assertEqual(fired[0].kind, pf.AlertKind.PORT_OUT_SUSPECTED)
            self.assertEqual(fired[0].slot, 0)
            self.assertEqual(agent.next_wakeup(), reread)

            # Service back: nothing pending; a new outage schedules a new wake-up.
            await agent.handle_service(
                pf.ServiceObservation(slot=0, state=pf.ServiceState.IN_SERVICE), at(1000)
            )
            self.assertEqual(agent.next_wakeup(), reread)
            await agent.handle_service(
                pf.ServiceObservation(slot=0, state=pf.ServiceState.OUT_OF_SERVICE), at(2000)
            )
            self.assertEqual(agent.next_wakeup(), at(2000) + datetime.timedelta(minutes=10))
            # Wi-Fi down explains the outage: no suspicion, only the re-read.
            await agent.handle_connectivity(wifi(False), at(2001))
            self.assertEqual(agent.next_wakeup(), reread)

        run(body())


class WakeupTests(AgentTestCase):
    """The core's wake-up calls: duties, the delivery backoff, the reboot inference."""

    def test_wake_duties_delivery_backoff_and_reboot(self):
        async def body():
            agent, alerts = await self.replaced(HmacKey())
            self.assertEqual(len(alerts), 1)
            boot = at(0) - datetime.timedelta(minutes=3)
            woken = await agent.wake(at(10), boot)
            self.assertIsInstance(woken, pf.Wakeup)
            self.assertIsInstance(woken.duties, pf.WakeupDuties)
            self.assertEqual(woken.boot, pf.BootVerdict.FIRST_REPORT)
            self.assertTrue(woken.duties.reread_radio)
            self.assertTrue(woken.duties.deliver_alerts, "an unacknowledged alert is offered again")
            self.assertFalse(woken.duties.evaluate_compliance, "no policy in force")
            self.assertFalse((await agent.wake(at(11), None)).duties.reread_radio, "handed out once")

            # The channel fails: the core's backoff, 30 s then 60 s, is the next wake-up.
            first = await agent.report_delivery([], pf.DeliveryResult.FAILED(), at(20))
            self.assertIsInstance(first, pf.DeliveryVerdict)
            self.assertEqual((first.failures, first.retry_at), (1, at(50)))
            self.assertEqual(agent.next_wakeup(), at(50))
            self.assertTrue((await agent.wake(at(50), None)).duties.deliver_alerts)
            second = await agent.report_delivery([], pf.DeliveryResult.FAILED(), at(50))
            self.assertEqual(second.retry_at, at(110))
            throttled = await agent.report_delivery([], pf.DeliveryResult.THROTTLED(at(80)), at(60))
            self.assertEqual(throttled.retry_at, at(80))
            ids = [a.id for a in await agent.pending_alerts(10)]
            done = await agent.report_delivery(ids, pf.DeliveryResult.DELIVERED(), at(90))
            self.assertEqual((done.acknowledged, done.failures, done.retry_at), (1, 0, None))
            self.assertEqual(await agent.pending_alerts(10), [])

            # Boot instants: jitter is the same boot, a later one a reboot, a future one refused.
            same = await agent.report_boot(boot + datetime.timedelta(seconds=2), at(100))
            self.assertEqual(same.verdict, pf.BootVerdict.SAME_BOOT)
            rebooted = await agent.report_boot(at(200), at(230))
            self.assertEqual(rebooted.verdict, pf.BootVerdict.REBOOTED)
            with self.assertRaises(pf.PortcullisError.InvalidInput) as cm:
                await agent.report_boot(at(5000), at(240))
            self.assertEqual(cm.exception.field, "boot_time")

        run(body())

class UploadTests(FixtureTestCase):
    """Journal shipping: the core hands out typed requests, Python stands in for the platform's
    HTTP stack, and a stand-in collector (a test hook) signs receipts."""

    COLLECTOR_SEED = bytes([0x21]) * 32  # its public key is in shipping-v1.bundle

    async def shipping_agent(self):
        agent = await pf.Agent.open(self.db, pf.SoftwareDeviceKey(b"python-upload-secret"), at(0))
        await agent.install_trust_root(self.fixture("root.signed"), "dev-0001", ["all-staff"], at(0))
        await agent.apply_policy(self.fixture("shipping-v1.bundle"), at(0))
        return agent

    async def send(self, agent, now, held):
        """Sends every upload the core has now, checking that each batch continues the last
        one (`held`: the collector's position); returns how many went."""
        sent = 0
        while True:
            req = await agent.next_upload(32 * 1024, now)
            if req is None:
                return sent
            self.assertIsInstance(req, pf.UploadRequest)
            self.assertEqual((req.method, req.url, req.path), ("POST", "https://collector.test/v1/upload", "/v1/upload"))
            self.assertEqual(req.certificate_sha256, ["ab" * 32])
            headers = {h.name: h.value for h in req.headers}
            self.assertEqual(headers["Content-Type"], "application/json")
            self.assertLessEqual(len(req.body), 32 * 1024)
            batch = json.loads(req.body)
            self.assertEqual(batch["format"], "portcullis/upload/v1")
            self.assertEqual(batch["batch_seq"], req.batch_seq)
            self.assertEqual(len(batch["records"]), req.records)
            self.assertEqual((batch["start"]["seq"], batch["start"]["hash"]), (held["seq"], held["hash"]))
            seqs = [r["seq"] for r in batch["records"]]
            self.assertEqual(seqs, list(range(held["seq"] + 1, held["seq"] + 1 + len(seqs))))
            self.assertGreaterEqual(batch["head_checkpoint"]["seq"], seqs[-1] if seqs else held["seq"])
            receipt = pf.test_hook_collector_receipt(req.body, self.COLLECTOR_SEED, now)
            outcome = await agent.upload_response(200, receipt, now)
            self.assertIsInstance(outcome, pf.UploadOutcome)
            self.assertTrue(outcome.acknowledged, outcome.problem)
            if seqs:
                held["seq"], held["hash"] = seqs[-1], batch["records"][-1]["hash"]
            self.assertEqual(outcome.acknowledged_seq, held["seq"])
            sent += 1
            self.assertLess(sent, 100, "uploads never end")

    def test_a_day_of_events_ships_in_continuous_batches(self):
        async def body():
            agent = await self.shipping_agent()
            held = {"seq": 0, "hash": "00" * 32}
            batches = uploads_due = 0
            for step in range(24 * 6):
                now = at(step * 600)
                await agent.handle_sim(sim([ICCID_A, ICCID_B][(step // 24) % 2]), now)
                ids = [a.id for a in await agent.pending_alerts(50)]
                await agent.ack_alerts(ids, now)
                if step % 3 == 0:
                    woken = await agent.wake(now, None)
                    if woken.duties.upload:
                        uploads_due += 1
                        batches += await self.send(agent, now, held)
            self.assertGreaterEqual(uploads_due, 40, "every 30 minutes over a day")
            self.assertGreaterEqual(batches, 40)
            status = await agent.upload_status()
            self.assertIsInstance(status, pf.UploadStatus)
            self.assertEqual(status.acknowledged_seq, held["seq"])
            self.assertEqual(len(status.device_id), 32)
            self.assertGreater(held["seq"], 10)

        run(body())

    def test_failures_back_off_and_bad_receipts_change_nothing(self):
        async def body():
            agent = await self.shipping_agent()
            await agent.handle_sim(sim(ICCID_A), at(1))
            first = await agent.next_upload(1 << 20, at(10))
            failed = await agent.upload_response(0, b"", at(10))
            self.assertEqual((failed.acknowledged, failed.failures, failed.retry_at), (False, 1, at(40)))
            self.assertIsNotNone(failed.problem)
            self.assertIsNone(await agent.next_upload(1 << 20, at(20)), "backing off")
            again = await agent.next_upload(1 << 20, at(40))
            self.assertEqual(again.body, first.body, "a retry sends the same batch")
            # A receipt signed by another key, or for bytes never sent, is refused.
            forged = pf.test_hook_collector_receipt(again.body, bytes([0x22]) * 32, at(41))
            with self.assertRaises(pf.PortcullisError.InvalidInput) as cm:
                await agent.upload_acknowledged(forged, at(41))
            self.assertEqual(cm.exception.field, "upload_receipt")
            other = json.loads(again.body)
            other["created_at"] = "2026-03-01T09:00:59Z"
            wrong = pf.test_hook_collector_receipt(json.dumps(other).encode(), self.COLLECTOR_SEED, at(41))
            with self.assertRaises(pf.PortcullisError.InvalidInput):
                await agent.upload_acknowledged(wrong, at(41))
            self.assertEqual((await agent.upload_status()).acknowledged_seq, 0)
            # Nothing is pruned the collector does not hold.
            await agent.checkpoint(at(42))
            self.assertEqual(await agent.prune_journal(at(100000)), 0)
            # Through the transport path the same refusal is a failed attempt, backing off.
            refused = await agent.upload_response(200, forged, at(43))
            self.assertFalse(refused.acknowledged)
            self.assertIn("receipt", refused.problem)
            self.assertEqual(refused.failures, 2)
            retry = refused.retry_at
            self.assertEqual((await agent.next_upload(1 << 20, retry)).body, first.body)
            good = pf.test_hook_collector_receipt(again.body, self.COLLECTOR_SEED, retry)
            done = await agent.upload_response(200, good, retry)
            self.assertTrue(done.acknowledged)
            self.assertEqual((done.failures, done.retry_at), (0, None))
            self.assertGreater((await agent.upload_status()).acknowledged_seq, 0)

        run(body())


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"python: {passed} passed, {failed} failed")
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
