// ManagedConfigReader on Robolectric's RestrictionsManager (every key, the `instructions` list,
// a value of the wrong type), the change broadcast, and the policy and instruction sync the
// whole agent runs from it: enrollment and policy at start, a lock instruction after a change.

package org.portcullis.android.robolectric

import android.app.KeyguardManager
import android.app.admin.DevicePolicyManager
import android.content.ComponentName
import android.content.Context
import android.content.Intent
import android.content.RestrictionsManager
import android.os.Bundle
import android.os.Looper
import java.io.File
import java.nio.file.Files
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.portcullis.HandedAction
import org.portcullis.android.ManagedConfigReader
import org.portcullis.android.Portcullis
import org.portcullis.ManagedConfigValues
import org.portcullis.android.core.ManagedConfigKeys
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [SDK], shadows = [PortcullisShadowDevicePolicyManager::class])
class ManagedConfigTest {
    private lateinit var context: Context
    private lateinit var dir: File

    @Before
    fun setUp() {
        context = RuntimeEnvironment.getApplication()
        dir = Files.createTempDirectory("portcullis-robolectric-").toFile()
    }

    @After
    fun tearDown() {
        Portcullis.closeForTests()
        dir.deleteRecursively()
    }

    private fun text(name: String) = fixture(name).readText(Charsets.UTF_8)

    /** What the EMM pushes at enrollment: root, id, groups, the first bundle. */
    private fun enrollment(): Bundle = Bundle().apply {
        putString(ManagedConfigKeys.TRUST_ROOT, text("root.signed"))
        putString(ManagedConfigKeys.DEVICE_ID, "dev-0001")
        putString(ManagedConfigKeys.DEVICE_GROUPS, "all-staff, all-staff ,")
        putString(ManagedConfigKeys.POLICY_BUNDLE, "\n" + text("baseline-v1.bundle") + "\n")
    }

    private fun push(bundle: Bundle) = shadowOf(context.service<RestrictionsManager>()).setApplicationRestrictions(bundle)

    private fun restrictionsChanged() {
        context.sendBroadcast(Intent(Intent.ACTION_APPLICATION_RESTRICTIONS_CHANGED))
        shadowOf(Looper.getMainLooper()).idle()
    }

    @Test
    fun everyKeyIsReadIncludingTheInstructionsList() {
        push(
            enrollment().apply {
                putString(ManagedConfigKeys.INSTRUCTIONS, text("instructions/lock-5.instruction") + "\n\n" + text("instructions/auth-1.instruction"))
                putString(ManagedConfigKeys.CONSOLE_ENDPOINT, "https://console.example.org/portcullis")
                putInt(ManagedConfigKeys.INDICATOR_COLLECTIONS, 7) // the wrong type
            },
        )
        val cfg = ManagedConfigReader(context).read()
        // As delivered: the core trims, splits and checks them.
        assertEquals("\n" + text("baseline-v1.bundle") + "\n", cfg.policyBundle)
        assertEquals(text("root.signed"), cfg.trustRoot)
        assertEquals("dev-0001", cfg.deviceId)
        assertEquals("all-staff, all-staff ,", cfg.deviceGroups)
        assertEquals("https://console.example.org/portcullis", cfg.consoleEndpoint)
        assertEquals(
            listOf(text("instructions/lock-5.instruction") + "\n\n" + text("instructions/auth-1.instruction")),
            cfg.instructions,
        )
        assertEquals(emptyList<String>(), cfg.indicatorCollections)
        assertEquals(listOf("indicator_collections"), cfg.notText)
    }

    @Test
    fun aChangeBroadcastHandsTheNewConfigurationToTheWatcher() {
        push(enrollment())
        val reader = ManagedConfigReader(context)
        val seen = mutableListOf<ManagedConfigValues>()
        reader.watch { seen += it }
        push(enrollment().apply { putString(ManagedConfigKeys.INSTRUCTIONS, text("instructions/lock-5.instruction")) })
        restrictionsChanged()
        assertEquals(1, seen.size)
        assertEquals(1, seen.single().instructions.size)
        reader.stopWatching()
        restrictionsChanged()
        assertEquals("not called once stopped", 1, seen.size)
    }

    @Test
    fun theAgentEnrollsAtStartAndCarriesOutAnInstructionPushedLater() {
        val admin = ComponentName(context, "org.portcullis.test.AdminReceiver")
        val dpm = context.service<DevicePolicyManager>()
        shadowOf(dpm).setDeviceOwner(admin)
        shadowOf(dpm).setActiveAdmin(admin)
        push(enrollment())
        val clock = ShadowedClock()
        val reporter = RecordingReporter()
        val portcullis = Portcullis.get(
            context,
            Portcullis.Config(File(dir, "agent.db"), { MacKey() }, deviceAdmin = admin, keyedAppStates = { reporter }, clock = clock::now),
        )
        portcullis.start()
        runBlocking { portcullis.settle() }
        val agent = runBlocking { portcullis.agent() }
        assertTrue("trust root installed from the managed configuration", runBlocking { agent.trustRootInstalled() })
        assertEquals(1uL, runBlocking { agent.policyStatus() }?.version)
        assertFalse(context.service<KeyguardManager>().isKeyguardLocked)

        // The console signs a lock; the EMM pushes it: the change broadcast starts the sync.
        push(enrollment().apply { putString(ManagedConfigKeys.INSTRUCTIONS, text("instructions/lock-5.instruction")) })
        restrictionsChanged()
        runBlocking { portcullis.settle() }
        assertTrue("the lock was carried out", context.service<KeyguardManager>().isKeyguardLocked)
        assertEquals(emptyList<HandedAction>(), runBlocking { agent.actionsAwaitingOutcome() })

        // Redelivered at the next change: no second lock, nothing awaiting.
        context.service<KeyguardManager>().let { shadowOf(it).setKeyguardLocked(false) }
        restrictionsChanged()
        runBlocking { portcullis.settle() }
        assertFalse("an instruction already carried out is not carried out again", context.service<KeyguardManager>().isKeyguardLocked)
    }
}
