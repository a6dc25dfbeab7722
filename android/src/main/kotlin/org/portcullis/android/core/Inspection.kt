// Inspections on the phone: when the core's schedule has a window open, the inventory becomes an evidence
// snapshot (the library's typed `EvidenceSnapshot`, docs/inspection.md) that the core validates,
// scans and signs. What the
// phone can see of itself is a first pass; the full forensic inspection is the kiosk's.

package org.portcullis.android.core

import java.time.Instant
import kotlin.coroutines.cancellation.CancellationException
import org.portcullis.AgentInterface
import org.portcullis.Alert
import org.portcullis.AndroidPackage
import org.portcullis.AndroidSettings
import org.portcullis.androidEvidenceSnapshot
import org.portcullis.EvidenceSnapshot
import org.portcullis.InspectionReport
import org.portcullis.InspectionWindow

/** The evidence snapshot the core's `submitInspection` scans, built by the core from the readings. */
object EvidenceSnapshots {
    /** Packages with installer and signing certificates; accessibility services and user CA certificates when observed. */
    fun snapshot(collectedAt: Instant, packages: List<AndroidPackage>, settings: AndroidSettings?): EvidenceSnapshot =
        // A version name is free text an app controls: a lone surrogate cannot be encoded as UTF-8.
        androidEvidenceSnapshot(collectedAt, packages.map { it.copy(versionName = it.versionName?.takeIf(::wellFormed)) }, settings)

    /** Whether [text] is well-formed UTF-16 (no unpaired surrogate). */
    fun wellFormed(text: String): Boolean {
        var i = 0
        while (i < text.length) {
            val c = text[i]
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= text.length || !Character.isLowSurrogate(text[i + 1])) return false
                i += 2
                continue
            }
            if (Character.isLowSurrogate(c)) return false
            i++
        }
        return true
    }
}

/** The agent calls inspections make (the real agent through [inspectionAgentOf], or a test double). */
interface InspectionAgent {
    suspend fun reportConditions(charging: Boolean, onWifi: Boolean, utcOffsetMinutes: Int, now: Instant): List<Alert>
    suspend fun openInspectionWindow(): InspectionWindow?
    suspend fun submitInspection(windowId: ULong?, evidence: EvidenceSnapshot, now: Instant): InspectionReport
}

/** [InspectionAgent] over [agent] (or the agent it returns, opened lazily). */
fun inspectionAgentOf(agent: suspend () -> AgentInterface): InspectionAgent = object : InspectionAgent {
    override suspend fun reportConditions(charging: Boolean, onWifi: Boolean, utcOffsetMinutes: Int, now: Instant): List<Alert> =
        agent().reportConditions(charging, onWifi, utcOffsetMinutes, now)

    override suspend fun openInspectionWindow(): InspectionWindow? = agent().openInspectionWindow()

    override suspend fun submitInspection(windowId: ULong?, evidence: EvidenceSnapshot, now: Instant): InspectionReport =
        agent().submitInspection(windowId, evidence, now)
}

/** What the phone reports for the schedule: windows prefer charging and Wi-Fi, and follow the local clock. */
data class DeviceConditions(val charging: Boolean, val onWifi: Boolean, val utcOffsetMinutes: Int)

/** What one look at the schedule did. */
sealed class InspectionPass {
    /** No window is open. */
    object NoWindow : InspectionPass()

    /** The window's evidence was scanned; [report] carries the signed evidence bundle for the console. */
    data class Submitted(val window: InspectionWindow, val report: InspectionReport) : InspectionPass()

    /** Reading the device or the core failed; the window stays open and the next wake-up tries again. */
    data class Failed(val error: Exception) : InspectionPass()
}

/**
 * Inspects when a window is open (the signed indicator collections reach the core through
 * its managed-configuration sync). Calls must not overlap: the glue makes them from its
 * ordered input queue.
 */
class InspectionLoop(
    private val agent: InspectionAgent,
    private val evidence: (Instant) -> EvidenceSnapshot,
) {
    /**
     * At a wake-up: reports [conditions] (the core plans windows around charging and Wi-Fi
     * and the local clock, and ignores conditions it already has), then, if a window is open,
     * collects the evidence and submits it. The core completes the window, so it is inspected once.
     */
    suspend fun onWake(conditions: DeviceConditions?, now: Instant): InspectionPass = try {
        if (conditions != null) agent.reportConditions(conditions.charging, conditions.onWifi, conditions.utcOffsetMinutes, now)
        when (val window = agent.openInspectionWindow()) {
            null -> InspectionPass.NoWindow
            else -> InspectionPass.Submitted(window, agent.submitInspection(window.id, evidence(now), now))
        }
    } catch (e: CancellationException) {
        throw e
    } catch (e: Exception) {
        InspectionPass.Failed(e)
    }
}
