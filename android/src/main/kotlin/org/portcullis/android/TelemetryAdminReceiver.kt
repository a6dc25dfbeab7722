// DeviceAdminReceiver log callbacks -> the core's telemetry ingest. The device-owner app's
// own receiver extends this class (declared in its manifest with BIND_DEVICE_ADMIN, like any
// DeviceAdminReceiver); the mapping lives in core/Telemetry.kt, the decisions in the core.

package org.portcullis.android

import android.app.admin.ConnectEvent
import android.app.admin.DeviceAdminReceiver
import android.app.admin.DevicePolicyManager
import android.app.admin.DnsEvent
import android.content.Context
import android.content.Intent
import android.util.Log
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch
import java.time.Instant
import org.portcullis.ConnectLogEvent
import org.portcullis.DnsLogEvent
import org.portcullis.TelemetryLogEvent
import org.portcullis.android.core.LogMapping
import org.portcullis.android.core.SecurityLogReading
import org.portcullis.android.core.TelemetryMapping

open class TelemetryAdminReceiver : DeviceAdminReceiver() {
    override fun onNetworkLogsAvailable(context: Context, intent: Intent, batchToken: Long, networkLogsCount: Int) {
        val dpm = context.getSystemService(DevicePolicyManager::class.java) ?: return
        val logs = try {
            dpm.retrieveNetworkLogs(getWho(context), batchToken)
        } catch (e: SecurityException) {
            Log.w(LogMapping.TAG, "network logs not readable: not the device owner")
            null
        } ?: return
        val readings = logs.mapNotNull { event ->
            val at = Instant.ofEpochMilli(event.timestamp)
            when (event) {
                is DnsEvent -> TelemetryLogEvent.Dns(
                    DnsLogEvent(at, event.packageName, event.hostname ?: return@mapNotNull null, event.inetAddresses.mapNotNull { it.hostAddress }),
                )
                is ConnectEvent -> TelemetryLogEvent.Connect(
                    ConnectLogEvent(at, event.packageName, event.inetAddress.hostAddress ?: return@mapNotNull null, event.port.toUShort()),
                )
                else -> null
            }
        }
        ingest(context, TelemetryMapping.batch(readings, emptyList()))
    }

    override fun onSecurityLogsAvailable(context: Context, intent: Intent) {
        val dpm = context.getSystemService(DevicePolicyManager::class.java) ?: return
        val logs = try {
            dpm.retrieveSecurityLogs(getWho(context))
        } catch (e: SecurityException) {
            Log.w(LogMapping.TAG, "security logs not readable: not the device owner")
            null
        } ?: return
        val readings = logs.map { SecurityLogReading(it.tag, it.timeNanos, it.data) }
        ingest(context, TelemetryMapping.batch(emptyList(), readings))
    }

    private fun ingest(context: Context, events: List<TelemetryLogEvent>) {
        if (events.isEmpty()) return
        val pending = goAsync()
        CoroutineScope(SupervisorJob() + Dispatchers.Default).launch {
            try {
                // The whole retrieval (a day of security log can be large): the core ingests it in bounded batches.
                Portcullis.get(context).ingestTelemetry(events)
            } finally {
                pending.finish()
            }
        }
    }
}
