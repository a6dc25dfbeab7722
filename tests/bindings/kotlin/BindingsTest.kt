// Kotlin binding tests: the generated org.portcullis bindings driving the real Rust library
// through JNA, as the Android app will. Run by scripts/binding-tests.sh, which compiles this
// file with the generated bindings and runs `main` with -Djna.library.path pointing at the
// built libportcullis_ffi.so. A plain main() with a tiny assertion harness: no test framework.

package org.portcullis.bindingtests

import java.io.File
import java.nio.file.Files
import java.time.Duration
import java.time.Instant
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicInteger
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec
import kotlin.system.exitProcess
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.runBlocking
import org.portcullis.ActionOutcome
import org.portcullis.ActionRoute
import org.portcullis.Agent
import org.portcullis.ComplianceSnapshot
import org.portcullis.EvidenceFile
import org.portcullis.EvidenceSnapshot
import org.portcullis.Measure
import org.portcullis.Platform
import org.portcullis.ReasonCode
import org.portcullis.Remediation
import org.portcullis.RuleRef
import org.portcullis.SnapshotAgent
import org.portcullis.SnapshotApp
import org.portcullis.SnapshotInstallSource
import org.portcullis.SnapshotOs
import org.portcullis.SnapshotSettings
import org.portcullis.VerdictStatus
import org.portcullis.ruleText
import org.portcullis.Alert
import org.portcullis.AlertKind
import org.portcullis.BootVerdict
import org.portcullis.DeliveryResult
import org.portcullis.Connectivity
import org.portcullis.DeviceKey
import org.portcullis.InstructionAction
import org.portcullis.InstructionKind
import org.portcullis.InstructionResult
import org.portcullis.InternalException
import org.portcullis.LogLevel
import org.portcullis.Logger
import org.portcullis.PortcullisException
import org.portcullis.Rat
import org.portcullis.ServiceObservation
import org.portcullis.ServiceState
import org.portcullis.Severity
import org.portcullis.SimObservation
import org.portcullis.SimState
import org.portcullis.SoftwareDeviceKey
import org.portcullis.libraryVersion
import org.portcullis.setLogger
import org.portcullis.testHookPanic

// ---------------------------------------------------------------- harness

class TestFailure(message: String) : AssertionError(message)

fun fail(message: String): Nothing = throw TestFailure(message)

fun check(condition: Boolean, message: () -> String) {
    if (!condition) fail(message())
}

fun <T> eq(expected: T, actual: T, what: String = "value") {
    if (expected != actual) fail("$what: expected <$expected> but was <$actual>")
}

/** Runs [block] (which may call suspend functions: it is inlined) and returns the exception it threw. */
inline fun <reified E : Throwable> assertThrows(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        fail("$what: expected ${E::class.qualifiedName} but got $e")
    }
    fail("$what: expected ${E::class.qualifiedName} but nothing was thrown")
}

/** One test's scratch space: a fresh directory for its database files. */
class Scratch(val dir: File) {
    val db: String = File(dir, "agent.db").path
    fun path(name: String): String = File(dir, name).path
}

val tests = mutableListOf<Pair<String, suspend (Scratch) -> Unit>>()

fun test(name: String, body: suspend (Scratch) -> Unit) {
    tests += name to body
}

// ---------------------------------------------------------------- fixtures

val T0: Instant = Instant.parse("2026-03-01T09:00:00Z")
fun at(seconds: Long): Instant = T0.plusSeconds(seconds)

const val ICCID_A = "8944110012345678901"
const val ICCID_B = "8944110098765432109"
val SECRET = "portcullis-binding-test-secret-0001".toByteArray()
val OTHER_SECRET = "another-device-secret-0002".toByteArray()

fun hmac(secret: ByteArray, message: ByteArray): ByteArray {
    val mac = Mac.getInstance("HmacSHA256")
    mac.init(SecretKeySpec(secret, "HmacSHA256"))
    return mac.doFinal(message)
}

/** A foreign DeviceKey in Kotlin: what an Android Keystore HmacSHA256 key does. */
class MacKey(private val secret: ByteArray = SECRET) : DeviceKey {
    val calls = AtomicInteger()
    override fun hmacSha256(message: ByteArray): ByteArray {
        calls.incrementAndGet()
        return hmac(secret, message)
    }
}

/** A broken platform key: 16 bytes instead of 32. */
class ShortKey : DeviceKey {
    override fun hmacSha256(message: ByteArray): ByteArray = hmac(SECRET, message).copyOf(16)
}

/** A key store that refuses (e.g. before first unlock). */
class LockedKey : DeviceKey {
    override fun hmacSha256(message: ByteArray): ByteArray =
        throw PortcullisException.DeviceKey("key store locked")
}

/** A key whose implementation throws something unexpected. */
class CrashingKey : DeviceKey {
    override fun hmacSha256(message: ByteArray): ByteArray = throw IllegalStateException("keystore bug")
}

class RecordingLogger : Logger {
    val records = CopyOnWriteArrayList<Triple<LogLevel, String, String>>()
    override fun log(level: LogLevel, target: String, message: String) {
        records += Triple(level, target, message)
    }
}

fun wifi(on: Boolean = true) = Connectivity(wifi = on, cellularData = false, airplaneMode = false)

fun sim(iccid: String?, slot: Int = 0, state: SimState = SimState.READY, imsi: String? = null) =
    SimObservation(slot = slot, state = state, iccid = iccid, imsi = imsi)

fun service(state: ServiceState, rat: Rat? = null) =
    ServiceObservation(slot = 0, state = state, rat = rat)

/** Opens an agent, establishes a baseline SIM, swaps it; returns the agent and the swap's alerts. */
suspend fun replaced(db: String, key: DeviceKey): Pair<Agent, List<Alert>> {
    val agent = Agent.open(db, key, at(0))
    eq(emptyList<Alert>(), agent.handleConnectivity(wifi(), at(1)), "alerts after connectivity")
    eq(emptyList<Alert>(), agent.handleSim(sim(ICCID_A), at(2)), "alerts after the first SIM")
    return agent to agent.handleSim(sim(ICCID_B), at(3))
}

fun assertSimReplaced(alert: Alert, whenAt: Instant? = null) {
    eq(AlertKind.SIM_REPLACED, alert.kind, "kind")
    eq("sim_replaced", alert.kindName, "kindName")
    eq(Severity.CRITICAL, alert.severity, "severity")
    eq(0, alert.slot, "slot")
    eq("sim_identity", alert.detector, "detector")
    check(alert.detectorVersion >= 1u) { "detectorVersion ${alert.detectorVersion}" }
    if (whenAt != null) eq(whenAt, alert.at, "at")
    val text = alert.toString()
    for (iccid in listOf(ICCID_A, ICCID_B)) {
        check(!text.contains(iccid.take(10)) && !text.contains(iccid.takeLast(9))) {
            "alert leaks an ICCID: $text"
        }
    }
    val evidence = alert.evidence.associate { it.key to it.value }
    eq("iccid", evidence["fields_changed"], "fields_changed")
    eq(8, evidence["baseline_iccid_hash"]?.length, "baseline hash prefix length")
    check(evidence["baseline_iccid_hash"] != evidence["observed_iccid_hash"]) { "hash prefixes equal" }
}

/** A signed fixture from scripts/lib/fixtures.sh (PORTCULLIS_FIXTURES, set by binding-tests.sh). */
fun fixture(name: String): ByteArray {
    val dir = System.getenv("PORTCULLIS_FIXTURES") ?: fail("PORTCULLIS_FIXTURES not set (run scripts/binding-tests.sh)")
    val f = File(dir, name)
    check(f.isFile) { "missing fixture $f" }
    return f.readBytes()
}

fun instruction(name: String): ByteArray = fixture("instructions/$name")

/** An agent enrolled as dev-0001 (group all-staff) with a baseline SIM in slot 0. */
suspend fun enrolled(db: String): Agent {
    val agent = Agent.open(db, MacKey(), at(0))
    agent.installTrustRoot(fixture("root.signed"), "dev-0001", listOf("all-staff"), at(0))
    agent.handleConnectivity(wifi(), at(1))
    eq(emptyList<Alert>(), agent.handleSim(sim(ICCID_A), at(2)), "alerts after the first SIM")
    return agent
}

inline fun <reified T : InstructionResult> InstructionResult.expectIs(): T =
    this as? T ?: fail("expected ${T::class.simpleName}, got $this")

// ---------------------------------------------------------------- tests

fun defineTests() {
    test("library version") {
        check(Regex("""^\d+\.\d+\.\d+""").containsMatchIn(libraryVersion())) { libraryVersion() }
    }

    test("sim_replaced with a Kotlin DeviceKey (javax.crypto.Mac)") { s ->
        val key = MacKey()
        val (agent, alerts) = replaced(s.db, key)
        agent.use {
            check(key.calls.get() > 0) { "the Kotlin DeviceKey was never called" }
            eq(1, alerts.size, "alerts from the swap")
            assertSimReplaced(alerts[0], at(3))
            eq(0u, alerts[0].deliveryAttempts, "deliveryAttempts before delivery")
            val pending = agent.pendingAlerts(10u)
            eq(listOf(alerts[0].id), pending.map { it.id }, "pending ids")
            assertSimReplaced(pending[0], at(3))
            eq(1u, pending[0].deliveryAttempts, "deliveryAttempts")
        }
    }

    test("sim_replaced with SoftwareDeviceKey") { s ->
        SoftwareDeviceKey(SECRET).use { sw ->
            val (agent, alerts) = replaced(s.db, sw)
            agent.use {
                eq(listOf("sim_replaced"), alerts.map { it.kindName }, "alerts")
                val pending = agent.pendingAlerts(10u)
                eq(1, pending.size, "pending")
                assertSimReplaced(pending[0])
            }
        }
    }

    test("SoftwareDeviceKey equals javax.crypto HMAC and reopens a Kotlin-key enrollment") { s ->
        SoftwareDeviceKey(SECRET).use { sw ->
            val msg = "portcullis".toByteArray()
            check(sw.hmacSha256(msg).contentEquals(hmac(SECRET, msg))) { "HMACs differ" }
            replaced(s.db, MacKey()).first.close()
            Agent.open(s.db, sw, at(10)).use { again ->
                eq(listOf("sim_replaced"), again.pendingAlerts(10u).map { it.kindName }, "pending")
            }
        }
    }

    test("SoftwareDeviceKey rejects a short secret") {
        val e = assertThrows<PortcullisException.InvalidInput>("short secret") {
            SoftwareDeviceKey("short".toByteArray())
        }
        eq("device_key", e.field, "field")
    }

    test("ack stops redelivery while unacked alerts come back") { s ->
        val (agent, alerts) = replaced(s.db, MacKey())
        agent.use {
            val swap = alerts.single()
            val removed = agent.handleSim(sim(null, state = SimState.ABSENT), at(4))
            eq(listOf("sim_removed"), removed.map { it.kindName }, "alerts on removal")
            eq(Severity.HIGH, removed[0].severity, "sim_removed severity")

            val first = agent.pendingAlerts(10u)
            eq(listOf(swap.id, removed[0].id), first.map { it.id }, "first delivery")
            eq(listOf(1u, 1u), first.map { it.deliveryAttempts }, "first attempts")

            eq(1u, agent.ackAlerts(listOf(swap.id), at(5)), "newly acked")
            eq(0u, agent.ackAlerts(listOf(swap.id), at(5)), "acked twice")

            val second = agent.pendingAlerts(10u)
            eq(listOf(removed[0].id), second.map { it.id }, "second delivery")
            eq(2u, second[0].deliveryAttempts, "second attempts")
            eq(3u, agent.pendingAlerts(10u)[0].deliveryAttempts, "third attempts")

            eq(1u, agent.ackAlerts(listOf(removed[0].id, 999_999uL), at(6)), "ack with unknown id")
            eq(emptyList<Alert>(), agent.pendingAlerts(10u), "pending after acks")
        }
    }

    test("state survives reopening") { s ->
        val key = MacKey()
        replaced(s.db, key).first.close()
        Agent.open(s.db, key, at(10)).use { again ->
            eq(listOf("sim_replaced"), again.pendingAlerts(10u).map { it.kindName }, "pending")
            eq(emptyList<Alert>(), again.handleSim(sim(ICCID_A), at(11)), "baseline SIM returns")
        }
    }

    test("concurrent suspend calls on one agent") { s ->
        val (agent, _) = replaced(s.db, MacKey())
        agent.use {
            val results = coroutineScope { (1..8).map { async { agent.pendingAlerts(10u) } }.awaitAll() }
            eq((1..8).map { it.toUInt() }, results.map { it[0].deliveryAttempts }.sorted(), "attempts")
        }
    }

    test("reopening with a different key is refused with DeviceKey") { s ->
        Agent.open(s.db, MacKey(), at(0)).close()
        val e = assertThrows<PortcullisException.DeviceKey>("other Kotlin key") {
            Agent.open(s.db, MacKey(OTHER_SECRET), at(1))
        }
        check(e.reason.contains("different device key")) { e.reason }
        SoftwareDeviceKey(OTHER_SECRET).use { sw ->
            assertThrows<PortcullisException.DeviceKey>("other software key") { Agent.open(s.db, sw, at(1)) }
        }
        Agent.open(s.db, MacKey(), at(2)).close()
    }

    test("compliance crosses typed: verdicts, remediation actions, alert kinds and severities") { s ->
        enrolled(s.db).use { agent ->
            val certs = listOf("29f34e5f27f211b424bc5bf9d67162c0eafba2da35af35c16416fc446276ba26")
            fun snapshot(apps: List<SnapshotApp>) = ComplianceSnapshot(
                platform = Platform.ANDROID,
                deviceOwner = true,
                os = SnapshotOs(apiLevel = 34u, securityPatchLevel = "2026-02-01"),
                settings = SnapshotSettings(userCaCertsSha256 = listOf("d4".repeat(32))),
                apps = apps,
                agent = SnapshotAgent(packageName = "org.portcullis", uninstallBlocked = true),
            )
            val anydesk = SnapshotApp(
                id = "com.anydesk.anydeskandroid",
                versionCode = 7030000L,
                installSource = SnapshotInstallSource("com.android.vending"),
                signingCertsSha256 = certs,
            )
            assertThrows<PortcullisException.NoPolicy>("no policy yet") {
                agent.evaluateCompliance(snapshot(listOf(anydesk)), at(5))
            }
            agent.applyPolicy(fixture("baseline-v1.bundle"), at(6))
            val report = agent.evaluateCompliance(snapshot(listOf(anydesk)), at(10))
            check(!report.compliant) { "a blocked app is installed: $report" }
            val verdict = report.verdicts.single { it.rule == RuleRef.App("com.anydesk.anydeskandroid") }
            eq(VerdictStatus.NON_COMPLIANT, verdict.status, "status")
            check(ReasonCode.APP_INSTALLED in verdict.reasons) { "reasons ${verdict.reasons}" }
            eq("app:com.anydesk.anydeskandroid", ruleText(verdict.rule), "rule text")
            val violations = report.alerts.filter { it.kind == AlertKind.COMPLIANCE_VIOLATION }
            check(violations.isNotEmpty()) { "alerts ${report.alerts.map { it.kind }}" }
            check(violations.any { it.severity == Severity.HIGH }) { "severities ${violations.map { it.severity }}" }
            val actions = agent.takeActions(at(11))
            val suspend = actions.single { it.action == Remediation.Apply(Measure.PackageSuspended("com.anydesk.anydeskandroid")) }
            eq(ActionRoute.AGENT, suspend.route, "a device owner suspends the app itself")
            eq(RuleRef.App("com.anydesk.anydeskandroid"), suspend.rule, "rule")
            check(actions.any { it.action == Remediation.RemoveCaCert("d4".repeat(32)) }) { "actions $actions" }
            eq(emptyList<org.portcullis.RemediationAction>(), agent.takeActions(at(12)), "handed out once")

            // The core's limits, one error naming the field; nothing is judged.
            val tooMany = anydesk.copy(signingCertsSha256 = (0 until 17).map { "%02x".format(it).repeat(32) })
            val e = assertThrows<PortcullisException.InvalidInput>("17 certificates") {
                agent.evaluateCompliance(snapshot(listOf(anydesk.copy(id = "org.example.ok"), tooMany)), at(20))
            }
            eq("apps[1].signingCertsSha256", e.field, "field")
            check(e.reason.contains("16")) { e.reason }
            eq(emptyList<org.portcullis.RemediationAction>(), agent.takeActions(at(21)), "nothing requested")
        }
    }

    test("evidence crosses typed; a bad digest names its field; no trust root is NotEnrolled") { s ->
        Agent.open(s.db, MacKey(), at(0)).use { agent ->
            assertThrows<PortcullisException.NotEnrolled>("bundle before enrollment") {
                agent.applyPolicy(fixture("baseline-v1.bundle"), at(1))
            }
            val e = assertThrows<PortcullisException.InvalidInput>("short digest") {
                agent.submitInspection(null, EvidenceSnapshot(files = listOf(EvidenceFile(path = "/data/x", sha256 = "00"))), at(2))
            }
            eq("files[0].sha256", e.field, "field")
        }
    }

    test("slot 9 is InvalidInput without echoing identifiers") { s ->
        Agent.open(s.db, MacKey(), at(0)).use { agent ->
            val e = assertThrows<PortcullisException.InvalidInput>("slot 9") {
                agent.handleSim(sim(ICCID_A, slot = 9), at(1))
            }
            check(e.reason.contains("slot")) { e.reason }
            check(!(e.reason + e.message).contains(ICCID_A.take(8))) { "leaks the ICCID: ${e.message}" }
            assertThrows<PortcullisException.InvalidInput>("service slot 9") {
                agent.handleService(ServiceObservation(slot = 9, state = ServiceState.IN_SERVICE), at(1))
            }
            eq(emptyList<Alert>(), agent.pendingAlerts(10u), "pending")
            eq(at(0), agent.nextWakeup(), "nextWakeup: only the first re-read, due since enrollment")
        }
    }

    test("malformed identifiers are InvalidInput without echoing them") { s ->
        Agent.open(s.db, MacKey(), at(0)).use { agent ->
            agent.handleSim(sim(ICCID_A), at(1))
            val e = assertThrows<PortcullisException.InvalidInput>("bad ICCID") {
                agent.handleSim(sim("89441100777755553X1"), at(2))
            }
            val text = e.reason + e.message + e.toString()
            check(text.contains("iccid")) { text }
            for (digits in listOf("89441100", "7777", "5555")) {
                check(!text.contains(digits)) { "leaks '$digits': $text" }
            }
            val imsi = assertThrows<PortcullisException.InvalidInput>("bad IMSI") {
                agent.handleSim(sim(ICCID_A, imsi = "2341501234567890123"), at(3))
            }
            check(imsi.field.contains("imsi") && !imsi.reason.contains("234150123")) { imsi.reason }
            eq(emptyList<Alert>(), agent.handleSim(sim(ICCID_A), at(4)), "baseline intact")
            eq(emptyList<Alert>(), agent.pendingAlerts(10u), "pending")
        }
    }

    test("a key returning 16 bytes is a DeviceKey error") { s ->
        val e = assertThrows<PortcullisException.DeviceKey>("short key") { Agent.open(s.db, ShortKey(), at(0)) }
        check(e.reason.contains("16 bytes")) { e.reason }
    }

    test("exceptions thrown by the platform key become DeviceKey errors") { s ->
        val locked = assertThrows<PortcullisException.DeviceKey>("locked") { Agent.open(s.db, LockedKey(), at(0)) }
        check(locked.reason.contains("key store locked")) { locked.reason }
        val crashed = assertThrows<PortcullisException.DeviceKey>("crashing") { Agent.open(s.db, CrashingKey(), at(0)) }
        check(crashed.reason.contains("keystore bug")) { crashed.reason }
        Agent.open(s.db, MacKey(), at(1)).use { agent ->
            eq(emptyList<Alert>(), agent.pendingAlerts(10u), "pending after failed opens")
        }
    }

    test("a Rust panic arrives as InternalException and the agent keeps working") { s ->
        val (agent, _) = replaced(s.db, MacKey())
        agent.use {
            val e = assertThrows<InternalException>("panic") { testHookPanic("boom from kotlin") }
            check(e.message?.contains("boom from kotlin") == true) { "message: ${e.message}" }
            val pending = agent.pendingAlerts(10u)
            eq(listOf("sim_replaced"), pending.map { it.kindName }, "pending after the panic")
            eq(1u, agent.ackAlerts(listOf(pending[0].id), at(20)), "ack after the panic")
            assertThrows<InternalException>("second panic") { testHookPanic("second") }
            eq(emptyList<Alert>(), agent.handleSim(sim(ICCID_A), at(21)), "handleSim after panics")
        }
    }

    test("a Kotlin Logger receives the library's records") { s ->
        val logger = RecordingLogger()
        setLogger(logger)
        try {
            replaced(s.db, MacKey()).first.close()
        } finally {
            setLogger(null)
        }
        val records = logger.records.toList()
        check(records.any { it.first == LogLevel.INFO && it.third == "portcullis: device enrolled" }) {
            "no enrollment record in $records"
        }
        check(records.any { it.first == LogLevel.WARN && it.third.contains("sim_replaced") }) {
            "no warn record for the alert in $records"
        }
        check(records.all { it.second.startsWith("portcullis") }) { "targets: $records" }
        check(records.none { it.third.contains(ICCID_A.take(10)) || it.third.contains(ICCID_B.take(10)) }) {
            "a log record leaks an ICCID"
        }
        Agent.open(s.path("other.db"), MacKey(), at(0)).close()
        eq(records.size, logger.records.size, "records after setLogger(null)")
    }

    test("a signed authorisation opens a window the new SIM becomes the baseline in") { s ->
        enrolled(s.db).use { agent ->
            val applied = agent.applyInstruction(instruction("auth-1.instruction"), at(10)).expectIs<InstructionResult.Applied>()
            eq(InstructionKind.AUTHORIZE_SIM_CHANGE, applied.kind, "kind")
            eq(1uL, applied.sequence, "sequence")
            eq(emptyList<org.portcullis.HandedAction>(), applied.actions, "actions")
            eq(listOf(AlertKind.SIM_CHANGE_WINDOW_OPENED), applied.alerts.map { it.kind }, "alerts at once")
            val kinds = agent.handleSim(sim(ICCID_B), at(20)).map { it.kindName }
            check("sim_replaced" !in kinds && "sim_change_authorized" in kinds) { "replacement in the window raised $kinds" }
            eq(emptyList<Alert>(), agent.handleSim(sim(ICCID_B), at(30)), "the new SIM is the baseline")
            agent.applyInstruction(instruction("auth-1.instruction"), at(40)).expectIs<InstructionResult.Unchanged>()
        }
    }

    test("signed carrier checks raise carrier_reported_swap and carrier_reported_device_swap") { s ->
        enrolled(s.db).use { agent ->
            val swap = agent.applyInstruction(instruction("carrier-swap-2.instruction"), at(10)).expectIs<InstructionResult.Applied>()
            eq(InstructionKind.CARRIER_CHECK, swap.kind, "kind")
            check(AlertKind.CARRIER_REPORTED_SWAP in swap.alerts.map { it.kind }) { "SIM swap check raised ${swap.alerts.map { it.kindName }}" }
            val device = agent.applyInstruction(instruction("device-swap-3.instruction"), at(1800)).expectIs<InstructionResult.Applied>()
            check(AlertKind.CARRIER_REPORTED_DEVICE_SWAP in device.alerts.map { it.kind }) {
                "Device Swap retrieve_date raised ${device.alerts.map { it.kindName }}"
            }
            eq(3uL, agent.instructionSequence(), "instruction sequence")
        }
    }

    test("a forged instruction is refused, alerted once, and a later SIM swap is still sim_replaced") { s ->
        enrolled(s.db).use { agent ->
            val refused = agent.applyInstruction(instruction("forged-10.instruction"), at(10)).expectIs<InstructionResult.Refused>()
            check(refused.code == "unknown_key" || refused.code == "bad_signature") { "code ${refused.code}" }
            eq(listOf("instruction_refused"), refused.alerts.map { it.kindName }, "alerts")
            val again = agent.applyInstruction(instruction("forged-10.instruction"), at(11)).expectIs<InstructionResult.Refused>()
            eq(emptyList<Alert>(), again.alerts, "alerts for the same forgery again")
            val alerts = agent.handleSim(sim(ICCID_B), at(20)).filter { it.kind == AlertKind.SIM_REPLACED }
            eq(1, alerts.size, "sim_replaced alerts")
            assertSimReplaced(alerts[0], at(20))
        }
    }

    test("lock_now is handed once and its outcome reported") { s ->
        enrolled(s.db).use { agent ->
            val applied = agent.applyInstruction(instruction("lock-5.instruction"), at(10)).expectIs<InstructionResult.Applied>()
            val handed = applied.actions.singleOrNull() ?: fail("actions ${applied.actions}")
            eq(InstructionAction.LockNow, handed.action, "action")
            eq(ActionRoute.AGENT, handed.route, "route")
            eq(listOf(handed), agent.actionsAwaitingOutcome(), "awaiting")
            val alerts = agent.reportActionOutcome(handed.actionId, ActionOutcome.Failed("lock refused by the platform"), at(11))
            eq(listOf("instruction_outcome"), alerts.map { it.kindName }, "outcome alerts")
            eq(Severity.HIGH, alerts[0].severity, "a failed action is high")
            eq(emptyList<org.portcullis.HandedAction>(), agent.actionsAwaitingOutcome(), "awaiting after the report")
            assertThrows<PortcullisException.InvalidInput>("second report") {
                agent.reportActionOutcome(handed.actionId, ActionOutcome.CarriedOut, at(12))
            }
        }
    }

    test("nextWakeup follows a port-out suspicion") { s ->
        Agent.open(s.db, MacKey(), at(0)).use { agent ->
            eq(at(0), agent.nextWakeup(), "nextWakeup on a fresh agent: the first re-read")
            val reread = agent.wake(at(0), null).nextWakeup
            eq(at(3600), reread, "the next re-read, an hour on")
            agent.handleConnectivity(wifi(), at(1))
            agent.handleSim(sim(ICCID_A), at(2))
            agent.handleService(service(ServiceState.IN_SERVICE, Rat.LTE), at(3))
            eq(reread, agent.nextWakeup(), "nextWakeup in service")

            agent.handleService(service(ServiceState.EMERGENCY_ONLY), at(60))
            val wake = agent.nextWakeup() ?: fail("no wake-up while a port-out is suspected")
            check(wake.isAfter(at(60))) { "wake-up $wake is not after the outage" }
            eq(at(60).plus(Duration.ofMinutes(10)), wake, "wake-up time")

            eq(emptyList<Alert>(), agent.handleTimeout(wake.minusSeconds(1)), "alerts before the deadline")
            val fired = agent.handleTimeout(wake)
            eq(listOf(AlertKind.PORT_OUT_SUSPECTED), fired.map { it.kind }, "alerts at the deadline")
            eq("port_out_suspected", fired[0].kindName, "kindName")
            eq(reread, agent.nextWakeup(), "nextWakeup after it fired")

            agent.handleService(service(ServiceState.IN_SERVICE), at(1000))
            eq(reread, agent.nextWakeup(), "nextWakeup with service back")
            agent.handleService(service(ServiceState.OUT_OF_SERVICE), at(2000))
            eq(at(2000).plus(Duration.ofMinutes(10)), agent.nextWakeup(), "second outage")
            agent.handleConnectivity(wifi(false), at(2001))
            eq(reread, agent.nextWakeup(), "nextWakeup with Wi-Fi down")
        }
    }

    test("wake, reportDelivery and reportBoot: duties, the core's backoff, the reboot inference") { s ->
        Agent.open(s.db, MacKey(), at(0)).use { agent ->
            agent.handleSim(sim(ICCID_A), at(1))
            eq(1, agent.handleSim(sim(ICCID_B), at(2)).size, "an alert to deliver")
            val boot = at(-180)
            val woken = agent.wake(at(10), boot)
            eq(BootVerdict.FIRST_REPORT, woken.boot, "first boot instant")
            check(woken.duties.rereadRadio && woken.duties.deliverAlerts && !woken.duties.evaluateCompliance) { "${woken.duties}" }
            check(!agent.wake(at(11), null).duties.rereadRadio) { "a duty is handed out once" }
            val failed = agent.reportDelivery(emptyList(), DeliveryResult.Failed, at(20))
            eq(at(50), failed.retryAt, "first retry after 30 s")
            eq(at(50), agent.nextWakeup(), "the retry is the next wake-up")
            eq(at(110), agent.reportDelivery(emptyList(), DeliveryResult.Failed, at(50)).retryAt, "then 60 s")
            eq(at(80), agent.reportDelivery(emptyList(), DeliveryResult.Throttled(at(80)), at(60)).retryAt, "a rate limit")
            val ids = agent.pendingAlerts(10u).map { it.id }
            val done = agent.reportDelivery(ids, DeliveryResult.Delivered, at(90))
            eq(1u, done.acknowledged, "acknowledged")
            eq(null, done.retryAt, "nothing to retry")
            eq(BootVerdict.SAME_BOOT, agent.reportBoot(boot.plusSeconds(2), at(100)).verdict, "jitter")
            eq(BootVerdict.REBOOTED, agent.reportBoot(at(200), at(230)).verdict, "a later boot")
            val e = assertThrows<PortcullisException.InvalidInput>("a boot in the future") { agent.reportBoot(at(5000), at(240)) }
            check(e.field == "boot_time") { e.field }
        }
    }

    test("journal uploads are typed requests, and only the collector's receipt moves the cursor") { s ->
        enrolled(s.db).use { agent ->
            agent.applyPolicy(fixture("shipping-v1.bundle"), at(1))
            val request = agent.nextUpload(65_536uL, at(10)) ?: fail("an upload is due")
            eq("POST", request.method, "method")
            eq("https://collector.test/v1/upload", request.url, "url")
            eq(listOf("ab".repeat(32)), request.certificateSha256, "pins")
            check(request.headers.any { it.name == "Content-Type" && it.value == "application/json" }) { "${request.headers}" }
            check(String(request.body).contains("\"portcullis/upload/v1\"")) { "not a batch" }
            val forged = org.portcullis.testHookCollectorReceipt(request.body, ByteArray(32) { 0x22 }, at(11))
            val e = assertThrows<PortcullisException.InvalidInput>("a receipt by another key") {
                agent.uploadAcknowledged(forged, at(11))
            }
            eq("upload_receipt", e.field, "field")
            eq(0L, agent.uploadStatus().acknowledgedSeq, "nothing acknowledged")
            val receipt = org.portcullis.testHookCollectorReceipt(request.body, ByteArray(32) { 0x21 }, at(12))
            val outcome = agent.uploadResponse(200u, receipt, at(12))
            check(outcome.acknowledged) { "$outcome" }
            eq(outcome.acknowledgedSeq, agent.uploadStatus().acknowledgedSeq, "cursor")
            eq(null, agent.nextUpload(65_536uL, at(13)), "caught up")
        }
    }
}

// ---------------------------------------------------------------- runner

fun main() {
    defineTests()
    var passed = 0
    var failed = 0
    for ((name, body) in tests) {
        val dir = Files.createTempDirectory("portcullis-kt-").toFile()
        try {
            runBlocking { body(Scratch(dir)) }
            passed++
            println("PASS  $name")
        } catch (e: Throwable) {
            failed++
            println("FAIL  $name: $e")
            e.printStackTrace(System.out)
        } finally {
            setLogger(null)
            dir.deleteRecursively()
        }
    }
    println("kotlin: $passed passed, $failed failed")
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
