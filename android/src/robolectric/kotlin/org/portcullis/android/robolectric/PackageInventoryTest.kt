// PackageInventory on Robolectric's PackageManager: current signers (not the rotation history),
// installers, hidden and suspended packages; and the snapshot built from it is judged by the real
// core exactly as the pixel-violations sample (core/tests/data/compliance/pixel-violations.json).

package org.portcullis.android.robolectric

import android.app.admin.DevicePolicyManager
import android.content.ComponentName
import android.content.Context
import android.content.pm.ApplicationInfo
import android.content.pm.PackageInfo
import android.content.pm.Signature
import android.content.pm.SigningInfo
import java.io.File
import java.nio.file.Files
import java.time.Instant
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.portcullis.UsbDataAccess
import org.portcullis.Agent
import org.portcullis.android.PackageInventory
import org.portcullis.ReasonCode
import org.portcullis.RuleRef
import org.portcullis.VerdictStatus
import org.portcullis.android.core.ComplianceSnapshots
import org.portcullis.AndroidPackage
import org.portcullis.android.core.Inventory
import org.portcullis.AndroidSettings
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.shadow.api.Shadow
import org.robolectric.shadows.ShadowSigningInfo

private const val VENDING = "com.android.vending"

/** One app of the pixel-violations phone: its package, version, installer, system flag and sample certificate hash. */
private data class SampleApp(val id: String, val version: Long, val installer: String?, val sampleSha: String?, val system: Boolean = false) {
    /** The certificate this test installs for it (DER bytes stand-in: the hash is all the snapshot carries). */
    val cert: ByteArray? = sampleSha?.let { "test certificate of $id".toByteArray() }
}

private val PIXEL_APPS = listOf(
    SampleApp("org.portcullis", 12, VENDING, "5c1e9a4147078a6e7c1b2d3a449f00112233445566778899aabbccddeeff0123"),
    SampleApp("org.thoughtcrime.securesms", 153001, VENDING, "29f34e5f27f211b424bc5bf9d67162c0eafba2da35af35c16416fc446276ba26"),
    SampleApp("com.anydesk.anydeskandroid", 7030000, VENDING, "6f4c2a1b0e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa99"),
    SampleApp("com.example.sideloaded", 3, null, "aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00aa00"),
    SampleApp(VENDING, 84451000, null, null, system = true),
    SampleApp("com.android.settings", 34, null, null, system = true),
)

/** The sample's settings, as the settings reader reports them (the same record as the JVM tests). */
private val PIXEL_SETTINGS = AndroidSettings(
    sdkInt = 34, securityPatch = "2025-10-01", developerSettings = true, adbEnabled = true, airplaneMode = false,
    autoTime = true, deviceSecure = true, encryptionStatus = android.app.admin.DevicePolicyManager.ENCRYPTION_STATUS_ACTIVE_PER_USER,
    adbWifiEnabled = false, maximumTimeToLockMs = 300_000, maximumFailedPasswordsForWipe = 15,
    unknownSourcesAllowed = false, verifyAppsEnabled = true, cellular2gEnabled = true,
    usbDataAccess = UsbDataAccess.DISALLOW_USB_FILE_TRANSFER,
    userCaCertsSha256 = listOf("d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e:d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e"),
    accessibilityServices = emptyList(),
)

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [SDK])
class PackageInventoryTest {
    private lateinit var context: Context
    private lateinit var dir: File

    @Before
    fun setUp() {
        context = RuntimeEnvironment.getApplication()
        dir = Files.createTempDirectory("portcullis-robolectric-").toFile()
        // The phone holds exactly the sample's apps (Robolectric installs the test's own package).
        shadowOf(context.packageManager).removePackage(context.packageName)
    }

    @After
    fun tearDown() {
        dir.deleteRecursively()
    }

    private fun signing(current: ByteArray, history: List<ByteArray> = emptyList()): SigningInfo =
        SigningInfo().also { info ->
            val shadow = Shadow.extract<ShadowSigningInfo>(info)
            shadow.setSignatures(arrayOf(Signature(current)))
            if (history.isNotEmpty()) shadow.setPastSigningCertificates(history.map { Signature(it) }.toTypedArray())
        }

    private fun install(id: String, version: Long, installer: String?, signing: SigningInfo?, system: Boolean = false) {
        val pm = shadowOf(context.packageManager)
        pm.installPackage(
            PackageInfo().apply {
                packageName = id
                longVersionCode = version
                signingInfo = signing
                applicationInfo = ApplicationInfo().apply {
                    packageName = id
                    enabled = true
                    flags = ApplicationInfo.FLAG_INSTALLED or (if (system) ApplicationInfo.FLAG_SYSTEM else 0)
                }
            },
        )
        pm.setInstallSourceInfo(id, installer, installer)
    }

    private fun installPixel() {
        for (app in PIXEL_APPS) install(app.id, app.version, app.installer, app.cert?.let { signing(it) }, app.system)
    }

    @Test
    fun theSnapshotOfTheInventoryIsJudgedLikeThePixelViolationsSample() {
        installPixel()
        val packages = PackageInventory(context).scan()
        assertEquals(PIXEL_APPS.map { it.id }.sorted(), packages.map { it.packageName }.sorted())
        val built = ComplianceSnapshots.snapshot(
            Instant.parse("2026-03-01T08:00:00Z"), deviceOwner = true, settings = PIXEL_SETTINGS, packages = packages,
            agentPackage = "org.portcullis", uninstallBlocked = true,
        )
        val report = runBlocking {
            Agent.open(File(dir, "agent.db").path, MacKey(), T0).use { agent ->
                agent.installTrustRoot(fixture("root.signed").readBytes(), "dev-0001", listOf("all-staff"), T0)
                agent.applyPolicy(fixture("baseline-v1.bundle").readBytes(), T0)
                agent.evaluateCompliance(built, T0)
            }
        }
        assertFalse("the pixel should not comply", report.compliant)
        // The sample's verdicts: the blocked remote-access app installed, Signal installed from the store.
        fun verdict(id: String) = report.verdicts.single { it.rule == RuleRef.App(id) }
        assertEquals(VerdictStatus.NON_COMPLIANT, verdict("com.anydesk.anydeskandroid").status)
        assertEquals(listOf(ReasonCode.APP_INSTALLED), verdict("com.anydesk.anydeskandroid").reasons)
        assertEquals(VerdictStatus.COMPLIANT, verdict("org.thoughtcrime.securesms").status)
    }

    @Test
    fun aRotatedSignerIsReportedByItsCurrentCertificateOnly() {
        val old = "Signal's signing certificate before 2024".toByteArray()
        val new = "Signal's signing certificate from 2024".toByteArray()
        install("org.thoughtcrime.securesms", 153001, VENDING, signing(new, history = listOf(old, new)))
        val signal = PackageInventory(context).scan().single { it.packageName == "org.thoughtcrime.securesms" }
        assertEquals(listOf(Inventory.certificateSha256(new)), signal.signingCertsSha256)
        assertEquals(VENDING, signal.installer)
        assertTrue(signal.installerObserved)
        assertEquals(153001L, signal.versionCode)
    }

    @Test
    fun hiddenAndSuspendedPackagesStayInTheInventory() {
        installPixel()
        val dpm = context.service<DevicePolicyManager>()
        val admin = ComponentName(context, "org.portcullis.test.AdminReceiver")
        shadowOf(dpm).setDeviceOwner(admin)
        shadowOf(dpm).setActiveAdmin(admin)
        assertTrue(dpm.setApplicationHidden(admin, "com.example.sideloaded", true))
        assertEquals(0, dpm.setPackagesSuspended(admin, arrayOf("com.anydesk.anydeskandroid"), true).size)
        val ids = PackageInventory(context).scan().map(AndroidPackage::packageName)
        assertTrue("a hidden app must not look removed: $ids", "com.example.sideloaded" in ids)
        assertTrue("a suspended app is still installed: $ids", "com.anydesk.anydeskandroid" in ids)
    }

    @Test
    fun aPackageWithoutARecordedInstallerHasNone() {
        install("com.example.adb", 1, null, signing("adb-installed".toByteArray()))
        val app = PackageInventory(context).scan().single { it.packageName == "com.example.adb" }
        assertEquals(null, app.installer)
        assertTrue("an empty install source is an observation", app.installerObserved)
    }
}
