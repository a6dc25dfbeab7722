// The module's entry point: one agent per process, the observers feeding it, alert delivery
// wake-up scheduling, the managed configuration (the core's syncManagedConfig) and signed console instructions
// (InstructionLoop). Glue only: every decision is the core's.

package org.portcullis.android

import android.app.admin.DevicePolicyManager
import android.content.BroadcastReceiver
import android.content.ComponentName
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.net.ConnectivityManager
import android.net.NetworkCapabilities
import android.os.BatteryManager
import android.os.Build
import android.util.Log
import java.io.File
import java.time.Instant
import java.time.ZoneId
import java.util.concurrent.atomic.AtomicBoolean
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import kotlinx.coroutines.cancel
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import org.portcullis.Agent
import org.portcullis.Alert
import org.portcullis.ChannelOutcome
import org.portcullis.ComplianceSnapshot
import org.portcullis.consoleDeployment
import org.portcullis.consoleSupersedes
import org.portcullis.DeviceKey
import org.portcullis.ManagedConfigValues
import org.portcullis.PortcullisException
import org.portcullis.TelemetryLogEvent
import org.portcullis.consoleInspection
import org.portcullis.consolePolicySyncFailed
import org.portcullis.android.core.AgentFeeder
import org.portcullis.android.core.AlertDelivery
import org.portcullis.android.core.CollectorSender
import org.portcullis.android.core.ComplianceLoop
import org.portcullis.android.core.CompliancePass
import org.portcullis.android.core.ComplianceSnapshots
import org.portcullis.android.core.DeviceConditions
import org.portcullis.android.core.EvidenceSnapshots
import org.portcullis.android.core.InspectionLoop
import org.portcullis.android.core.KeyAttestor
import org.portcullis.android.core.InspectionPass
import org.portcullis.android.core.InstructionLoop
import org.portcullis.android.core.InstructionPass
import org.portcullis.android.core.InstructionStateEncoding
import org.portcullis.android.core.instructionAgentOf
import org.portcullis.android.core.inspectionAgentOf
import org.portcullis.android.core.complianceAgentOf
import org.portcullis.android.core.InputQueue
import org.portcullis.android.core.KeyedAppStatesReporterPort
import org.portcullis.ConsoleMessage
import org.portcullis.android.core.LogMapping

/**
 * Start it from `Application.onCreate()` (every process start, including those for the
 * boot receiver, the wake-up alarm and the refresh job):
 *
 * ```kotlin
 * Portcullis.get(this).start()
 * ```
 */
class Portcullis private constructor(private val context: Context, private val config: Config) {
    /** Where the database lives, which key opens it, and tunables. */
    data class Config(
        val databaseFile: File,
        val deviceKey: () -> DeviceKey = { KeystoreDeviceKey() },
        val logPriority: Int = Log.INFO,
        /** The app's `DeviceAdminReceiver`; without it (or without device ownership) nothing is enforced, only judged. */
        val deviceAdmin: ComponentName? = null,
        /** The keyed-app-states reporter; default: the androidx.enterprise one ([KeyedAppStatesReporters.default]). */
        val keyedAppStates: (Context) -> KeyedAppStatesReporterPort = KeyedAppStatesReporters::default,
        /** The time every input is handed to the core with (tests drive it from Robolectric's clock). */
        val clock: () -> Instant = Instant::now,
    )

    companion object {
        /** The largest journal upload asked of the core (the policy's maxBatchBytes caps it too). */
        private const val MAX_UPLOAD_BYTES: ULong = 1_048_576uL

        @Volatile
        private var instance: Portcullis? = null

        /** The process's instance; [config] is used only by the first call (default: no-backup storage). */
        fun get(context: Context, config: Config? = null): Portcullis =
            instance ?: synchronized(this) {
                instance ?: run {
                    val app = context.applicationContext
                    val cfg = config ?: Config(File(app.noBackupFilesDir, "portcullis/agent.db"))
                    Portcullis(app, cfg).also { instance = it }
                }
            }

        /** Stops and forgets the process's instance, so the next [get] starts afresh (tests only). */
        internal fun closeForTests() = synchronized(this) {
            instance?.close()
            instance = null
        }

        /** Signed evidence bundles kept on the phone for collection. */
        private const val EVIDENCE_KEPT = 5
    }

    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /** Work running outside the input queue (deliveries, publications, wake-ups): what [settle] waits for. */
    private val inFlight = java.util.concurrent.atomic.AtomicInteger()

    /** Locks [reschedule]: see there. */
    private val armLock = Any()
    private val queue = InputQueue(scope) { Log.e(LogMapping.TAG, "input handling failed", it) }
    private val openLock = Mutex()

    @Volatile
    private var opened: Agent? = null

    private val feeder = AgentFeeder(::agent, config.clock, object : AgentFeeder.Listener {
        override suspend fun stepped(alerts: List<Alert>) {
            if (alerts.isNotEmpty()) {
                background { deliverAndReschedule() } // outside the input queue
            } else {
                reschedule()
            }
        }

        override fun failed(what: String, error: Exception) {
            // Library messages name fields, never identifier values.
            Log.w(LogMapping.TAG, "$what reading not recorded: $error")
        }
    })

    private val channel = KeyedAppStatesChannel(context, config.keyedAppStates(context))
    private val delivery = AlertDelivery(::agent, channel)
    private val policyStateLock = Mutex()

    @Volatile
    private var policyStateWanted: ConsoleMessage? = null

    private val settingsReader = SettingsReader(context, config.deviceAdmin)
    private val inventory = PackageInventory(context)
    // Owner mode through config.deviceAdmin; companion mode with the scopes the EMM's DPC delegated.
    private val enforcer = DevicePolicyEnforcer(context, config.deviceAdmin)
    private val deployment = DeploymentReader(context)
    private val compliance = ComplianceLoop(complianceAgentOf(::agent), enforcer) { now -> deviceSnapshot(now) }
    private val inspections = InspectionLoop(inspectionAgentOf(::agent)) { now ->
        EvidenceSnapshots.snapshot(now, inventory.scan(), settingsReader.read())
    }

    // MDM-routed lock and wipe requests take the immediate send when the core's once-a-minute
    // gate allows it (shared with alert delivery), else the plain one.
    private val instructions = InstructionLoop(
        instructionAgentOf(::agent),
        enforcer,
        { state -> channel.send(listOf(state), immediate = agent().acquireImmediateSend(config.clock())) },
        KeyAttestor(AndroidAttestationKeystore()),
    ) { runInspection() }

    private val packageReceiverRegistered = AtomicBoolean(false)
    private val compliancePassQueued = AtomicBoolean(false)

    private val packageChanges = object : BroadcastReceiver() {
        override fun onReceive(context: Context, intent: Intent) {
            compliance.markChanged()
            // A store update storm queues one pass, not one per package.
            if (compliancePassQueued.compareAndSet(false, true)) {
                queue.submit {
                    compliancePassQueued.set(false)
                    runCompliance()
                }
            }
        }
    }

    val telephony = TelephonyObserver(context, feeder, queue)
    val connectivity = ConnectivityObserver(context, feeder, queue)
    val managedConfig = ManagedConfigReader(context)

    /** The agent, opened on first use (Keystore key, SQLite file) off the calling thread. */
    suspend fun agent(): Agent {
        opened?.let { return it }
        return openLock.withLock {
            opened ?: run {
                config.databaseFile.parentFile?.mkdirs()
                Agent.open(config.databaseFile.path, config.deviceKey(), config.clock()).also { opened = it }
            }
        }
    }

    /** Starts logging, the observers and the periodic refresh. Idempotent; call on the main thread. */
    fun start() {
        LogcatLogger.install(config.logPriority)
        telephony.start()
        connectivity.start()
        WakeupScheduler.cancelLegacyRefresh(context)
        managedConfig.watch { applyManagedConfig(it) }
        if (packageReceiverRegistered.compareAndSet(false, true)) {
            val filter = IntentFilter().apply {
                addAction(Intent.ACTION_PACKAGE_ADDED)
                addAction(Intent.ACTION_PACKAGE_REMOVED)
                addAction(Intent.ACTION_PACKAGE_REPLACED)
                addAction(Intent.ACTION_PACKAGE_CHANGED)
                addDataScheme("package")
            }
            // System broadcasts still reach a receiver that is not exported.
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
                context.registerReceiver(packageChanges, filter, Context.RECEIVER_NOT_EXPORTED)
            } else {
                context.registerReceiver(packageChanges, filter)
            }
        }
        applyManagedConfig()
        background { wake() }
    }

    /** Stops the observers and the input queue and closes the agent. */
    private fun close() {
        telephony.stop()
        connectivity.stop()
        managedConfig.stopWatching()
        if (packageReceiverRegistered.compareAndSet(true, false)) runCatching { context.unregisterReceiver(packageChanges) }
        queue.close()
        scope.cancel()
        opened?.close()
        opened = null
    }

    /**
     * Waits until every input queued so far was handled and no work runs outside the queue
     * either (tests only: a test that moves Robolectric's clock must not race a reschedule).
     */
    internal suspend fun settle() {
        while (true) {
            inQueue { }
            // Work started from the queue counted itself before its block ended.
            if (inFlight.get() == 0) return
            delay(5)
        }
    }

    /** Runs [block] in this object's scope, outside the input queue, counted for [settle]. */
    private fun background(block: suspend CoroutineScope.() -> Unit) {
        counted { scope.launch(block = block) }
    }

    /** Starts a job counted for [settle] until it completes. */
    private fun <J : Job> counted(start: () -> J): J {
        inFlight.incrementAndGet()
        // A completion handler runs even when the scope was cancelled before the job started.
        return start().also { job -> job.invokeOnCompletion { inFlight.decrementAndGet() } }
    }

    /** The managed configuration now; its problems are logged. */
    fun readManagedConfig(): ManagedConfigValues = managedConfig.read()

    /**
     * Hands the managed configuration ([config], or read now) to the core's
     * `syncManagedConfig` (root, bundle, indicator collections, instructions), in the input
     * queue; the core's console message becomes the keyed app state `portcullis.policy`.
     * Called at start and on every change.
     */
    fun applyManagedConfig(config: ManagedConfigValues? = null) {
        queue.submit {
            val cfg = config ?: managedConfig.read()
            val now = this.config.clock()
            val state = try {
                agent().syncManagedConfig(cfg, now).console
            } catch (e: PortcullisException) {
                consolePolicySyncFailed(e.javaClass.simpleName, now)
            }
            Log.i(LogMapping.TAG, "policy sync: ${state.message}") // codes and field names, never the bundle
            policyStateWanted = state
            // A new policy (or a new root with it) may have come with any outcome, and syncs
            // are rare: judge the device against whatever is in force now.
            compliance.markChanged()
            runCompliance()
            // What the sync's instructions handed out: an instruction may start an inspection.
            instructionsDone(instructions.handleAwaiting(this.config.clock()))
            background {
                publishPolicyState()
                deliverAndReschedule() // a refusal raised policy_refused; a new policy may move the wake-up
                applyTelemetryLogging() // the policy in force says which platform logs to keep
            }
        }
    }

    /** The last state sent under each key: one the core finds no news (only its time changed) is not sent again. */
    private val published = java.util.concurrent.ConcurrentHashMap<String, ConsoleMessage>()

    /** Sends [state] unless the core finds it no news next to the last one sent under its key. */
    private suspend fun publish(state: ConsoleMessage) {
        if (!consoleSupersedes(published[state.key], state)) return
        if (channel.send(listOf(state), immediate = false) == ChannelOutcome.Sent) published[state.key] = state
    }

    /** Sends the latest policy state unless the EMM already has it (a failed send waits for the next sync). */
    private suspend fun publishPolicyState() {
        policyStateLock.withLock {
            val wanted = policyStateWanted ?: return
            publish(wanted)
        }
    }

    /**
     * A signed console instruction from a push channel (the envelope `portcullis instruction
     * sign` writes). The core verifies it against the trust root's operations role; what it
     * hands back is carried out or published for the MDM, and each outcome reported. A
     * refused instruction comes back in [InstructionPass.results] and raises
     * `instruction_refused`; nothing unsigned reaches the SIM guard.
     */
    suspend fun applyInstruction(envelope: ByteArray): InstructionPass =
        inQueue { instructions.apply(envelope, config.clock()).also { instructionsDone(it) } }

    /** Logs and publishes an instruction pass (`portcullis.instructions`); delivers the alerts it raised. */
    private fun instructionsDone(pass: InstructionPass) {
        if (pass.results.isEmpty() && pass.actions.isEmpty() && pass.error == null) return
        val state = InstructionStateEncoding.encode(pass, config.clock())
        Log.i(LogMapping.TAG, state.message) // counts and refusal codes, never an envelope
        background {
            publish(state)
            if (pass.alerts.isNotEmpty()) deliverAndReschedule()
        }
    }

    /**
     * Network or security-log events from the app's `DeviceAdminReceiver`
     * ([TelemetryAdminReceiver]), however many: ingested in the input queue (the core
     * batches them); the alerts raised are delivered at once. A refused delivery is logged
     * (field names only) and dropped.
     */
    suspend fun ingestTelemetry(events: List<TelemetryLogEvent>) {
        if (events.isEmpty()) return
        val result = try {
            inQueue { agent().ingestTelemetry(events, config.clock()) }
        } catch (e: PortcullisException) {
            Log.w(LogMapping.TAG, "telemetry batch refused: ${e.message}")
            return
        }
        Log.i(LogMapping.TAG, result.console.message) // the core's summary: counts, never a host or package
        // The batch's outcome for the console (the core's message), then its alerts.
        background { channel.send(listOf(result.console), immediate = false) }
        if (result.alerts.isNotEmpty()) background { deliverAndReschedule() }
    }

    /**
     * Turns the platform's network and security logs on or off as the policy in force asks
     * (`telemetry.networkLogging`, `telemetry.securityLogging`). Needs [Config.deviceAdmin]
     * and device ownership; call it after every policy change.
     */
    suspend fun applyTelemetryLogging() {
        val admin = config.deviceAdmin ?: return
        val dpm = context.getSystemService(DevicePolicyManager::class.java) ?: return
        val wanted = agent().telemetryLogging()
        try {
            dpm.setNetworkLoggingEnabled(admin, wanted.networkLogging)
            dpm.setSecurityLoggingEnabled(admin, wanted.securityLogging)
        } catch (e: SecurityException) {
            Log.w(LogMapping.TAG, "cannot change network or security logging: not the device owner")
        }
    }

    /**
     * A wake-up (the alarm, the after-boot job, start): the core lets time pass, infers a
     * reboot from the boot instant, and says what to do; this carries it out and re-arms the
     * alarm at the core's nextWakeup(). Runs in this object's scope: cancelling the caller
     * (the alarm receiver giving up after its budget) does not interrupt it.
     */
    suspend fun wake() {
        val work = counted {
            scope.async {
                val now = config.clock()
                val woken = inQueue { feeder.wake(WakeupScheduler.bootInstant(now)) }
                val duties = woken?.duties
                if (duties?.rereadRadio == true) connectivity.refresh()
                inQueue {
                    if (duties?.rereadRadio == true) {
                        telephony.readAndFeed()
                        telephony.readServiceAndFeed()
                    }
                    runCompliance(coreAsked = duties?.evaluateCompliance == true)
                    runInspection()
                    // Actions still owed an outcome: after a restart, or an MDM publication not taken.
                    if (duties?.resumeActions == true) instructionsDone(instructions.handleAwaiting(config.clock()))
                }
                if (duties?.upload == true) shipJournal()
                if (duties == null || duties.deliverAlerts) deliverAndReschedule() else reschedule()
            }
        }
        work.await()
    }

    /** The `upload` duty: sends the core's uploads until it has none (caught up, or backing off). */
    private suspend fun shipJournal() {
        try {
            while (true) {
                val request = agent().nextUpload(MAX_UPLOAD_BYTES, config.clock()) ?: return
                val (status, body) = withContext(Dispatchers.IO) { CollectorSender.send(request) }
                agent().uploadResponse(status.toUShort(), body, config.clock()).problem?.let {
                    Log.w(LogMapping.TAG, "journal upload: $it")
                }
            }
        } catch (e: PortcullisException) {
            Log.w(LogMapping.TAG, "journal upload failed: ${e.message}")
        }
    }

    private suspend fun deliverAndReschedule() {
        val report = delivery.deliver(config.clock())
        report.error?.let { Log.w(LogMapping.TAG, "alert delivery: $it (retry at ${report.retryAt})") }
        reschedule()
    }

    /**
     * A compliance pass when one is due (something changed, or the core asked): the inventory
     * and settings go to the core, its actions to the enforcer. Runs in the input queue.
     */
    private suspend fun runCompliance(coreAsked: Boolean = false) {
        val pass = try {
            compliance.runIfDue(config.clock(), coreAsked) ?: return
        } catch (e: RuntimeException) {
            Log.w(LogMapping.TAG, "compliance pass failed: ${e.javaClass.simpleName}")
            return
        }
        when (pass) {
            is CompliancePass.Evaluated -> {
                Log.i(LogMapping.TAG, "compliance: ${pass.report.openRules} open rule(s), ${pass.enforcement.outcomes.size} action(s)")
                val now = config.clock()
                val state = pass.console(now)
                // The deployment the core read for this pass (owner or companion, scopes), for the console.
                val deploymentState = consoleDeployment(deployment.read(), Build.VERSION.SDK_INT.toUInt(), now)
                background {
                    publish(state)
                    publish(deploymentState)
                }
                for ((requested, outcome) in pass.enforcement.notDone) {
                    // Rule names and action kinds only, never values read from the phone.
                    Log.w(LogMapping.TAG, "compliance action ${requested.rule ?: "ladder"}: ${requested.action.javaClass.simpleName} -> $outcome")
                }
                if (pass.report.alerts.isNotEmpty()) background { deliverAndReschedule() }
            }
            is CompliancePass.Skipped -> Log.i(LogMapping.TAG, "compliance pass skipped: ${pass.reason}")
            is CompliancePass.Failed -> Log.w(LogMapping.TAG, "compliance pass failed: ${pass.error.javaClass.simpleName}")
        }
    }

    /**
     * If the core's schedule has an inspection window open: the evidence from the inventory
     * is scanned and signed by the core; the signed bundle is kept for the console's
     * collection (the last [EVIDENCE_KEPT]) and summarised as the keyed app state
     * `portcullis.inspection`. Runs in the input queue; also for a signed `start_inspection`.
     */
    private suspend fun runInspection(): InspectionPass {
        val conditions = try {
            conditions()
        } catch (e: RuntimeException) {
            null // some builds throw from getNetworkCapabilities; the schedule keeps the last ones
        }
        val pass = inspections.onWake(conditions, config.clock())
        when (pass) {
            InspectionPass.NoWindow -> Unit
            is InspectionPass.Submitted -> {
                try {
                    keepEvidence(pass)
                } catch (e: java.io.IOException) {
                    Log.e(LogMapping.TAG, "signed evidence of window ${pass.window.id} not kept: ${e.javaClass.simpleName}")
                }
                val state = consoleInspection(pass.window, pass.report, config.clock())
                Log.i(LogMapping.TAG, state.message)
                background {
                    channel.send(listOf(state), immediate = false)
                    deliverAndReschedule() // an indicator match raised an alert
                }
            }
            is InspectionPass.Failed -> Log.w(LogMapping.TAG, "inspection not submitted: ${pass.error.javaClass.simpleName}")
        }
        return pass
    }

    private fun conditions(): DeviceConditions {
        val battery = context.requireService<BatteryManager>()
        val connectivityManager = context.requireService<ConnectivityManager>()
        val wifi = connectivityManager.getNetworkCapabilities(connectivityManager.activeNetwork)
            ?.hasTransport(NetworkCapabilities.TRANSPORT_WIFI) == true
        val offset = ZoneId.systemDefault().rules.getOffset(config.clock()).totalSeconds / 60
        return DeviceConditions(charging = battery.isCharging, onWifi = wifi, utcOffsetMinutes = offset)
    }

    /** Written to a temporary file and renamed, so a full disk never leaves half a bundle. */
    private fun keepEvidence(pass: InspectionPass.Submitted) {
        val dir = File(context.noBackupFilesDir, "portcullis/evidence").apply { mkdirs() }
        val part = File(dir, "window-${pass.window.id}.json.part")
        part.writeText(pass.report.evidenceBundle)
        if (!part.renameTo(File(dir, "window-${pass.window.id}.json"))) {
            part.delete()
            throw java.io.IOException("cannot rename the evidence file")
        }
        dir.listFiles { f -> f.name.endsWith(".json") }
            ?.sortedByDescending { it.lastModified() }?.drop(EVIDENCE_KEPT)?.forEach { it.delete() }
    }

    private fun deviceSnapshot(now: Instant): ComplianceSnapshot {
        val dpm = context.getSystemService(DevicePolicyManager::class.java) // null: no device-admin feature
        val owner = dpm?.isDeviceOwnerApp(context.packageName) == true
        val mode = deployment.read()
        val packages = try {
            inventory.scan()
        } catch (e: RuntimeException) {
            null // every app rule is then unknown, which alerts
        }
        // A caller that is not a device admin asks with a null admin (companion mode).
        val uninstallBlocked = try {
            dpm?.isUninstallBlocked(if (owner) config.deviceAdmin else null, context.packageName)
        } catch (e: SecurityException) {
            null
        }
        return ComplianceSnapshots.snapshot(
            now, owner, settingsReader.read(), packages, context.packageName, uninstallBlocked,
            delegatedScopes = mode.delegatedScopes, packageRoles = deployment.packageRoles(),
        )
    }

    /**
     * Arms the alarm at the core's nextWakeup(); before the agent is open nothing changes.
     * The input queue, deliveries and wake-ups reschedule from different threads. Under the
     * lock, whoever arms last also asked the core last, so an older answer never replaces a
     * newer one (a port-out deadline overwritten by a later compliance cadence).
     */
    private fun reschedule() {
        val agent = opened ?: return
        synchronized(armLock) {
            WakeupScheduler.arm(context, agent.nextWakeup(), config.clock())
        }
    }

    /** Runs [block] in the input queue (after everything queued before it) and returns its result. */
    private suspend fun <T> inQueue(block: suspend () -> T): T {
        val result = CompletableDeferred<T>()
        val queued = queue.submit {
            try {
                result.complete(block())
            } catch (e: Throwable) {
                result.completeExceptionally(e)
                throw e
            }
        }
        check(queued) { "the input queue is closed" }
        return result.await()
    }
}
