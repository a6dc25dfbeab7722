// The device settings the configuration rules look at (read-only).

package org.portcullis.android

import android.app.KeyguardManager
import android.app.admin.DevicePolicyManager
import android.content.Context
import android.os.Build
import android.provider.Settings
import org.portcullis.android.core.Inventory
import org.portcullis.android.core.SettingsSnapshot

class SettingsReader(private val context: Context) {
    fun read(): SettingsSnapshot {
        val resolver = context.contentResolver
        fun global(name: String) = Settings.Global.getInt(resolver, name, 0) != 0
        val dpm = context.getSystemService(DevicePolicyManager::class.java)
        val keyguard = context.getSystemService(KeyguardManager::class.java)
        return SettingsSnapshot(
            sdkInt = Build.VERSION.SDK_INT,
            securityPatch = Build.VERSION.SECURITY_PATCH.takeIf { it.isNotEmpty() },
            developerSettings = global(Settings.Global.DEVELOPMENT_SETTINGS_ENABLED),
            adbEnabled = global(Settings.Global.ADB_ENABLED),
            airplaneMode = global(Settings.Global.AIRPLANE_MODE_ON),
            autoTime = global(Settings.Global.AUTO_TIME),
            deviceSecure = keyguard.isDeviceSecure,
            storageEncrypted = Inventory.encrypted(dpm.storageEncryptionStatus),
        )
    }
}
