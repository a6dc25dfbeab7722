// The one file that uses androidx.enterprise:enterprise-feedback (Google Maven only): the
// KeyedAppStatesReporter behind KeyedAppStatesReporterPort. Only the Gradle build compiles it;
// scripts/android-robolectric-tests.sh compiles everything else against the real framework.
// Portcullis finds it by name (KeyedAppStatesReporters.default); keep it free of logic.

package org.portcullis.android

import android.content.Context
import androidx.enterprise.feedback.KeyedAppState
import androidx.enterprise.feedback.KeyedAppStatesCallback
import androidx.enterprise.feedback.KeyedAppStatesReporter
import org.portcullis.android.core.KeyedAppStatesReporterPort
import org.portcullis.ConsoleMessage
import org.portcullis.ConsoleSeverity

/** One per process (the reporter keeps bindings to the DPCs); created by reflection, hence the constructor. */
class AndroidxKeyedAppStatesReporter(context: Context) : KeyedAppStatesReporterPort {
    private val reporter = KeyedAppStatesReporter.create(context)

    override fun send(states: List<ConsoleMessage>, immediate: Boolean, answer: (Int, Throwable?) -> Unit) {
        val built = states.map {
            val severity = if (it.severity == ConsoleSeverity.ERROR) KeyedAppState.SEVERITY_ERROR else KeyedAppState.SEVERITY_INFO
            KeyedAppState.builder().setKey(it.key).setSeverity(severity).setMessage(it.message).setData(it.data).build()
        }
        val callback = KeyedAppStatesCallback { status, error -> answer(status, error) }
        if (immediate) reporter.setStatesImmediate(built, callback) else reporter.setStates(built, callback)
    }
}
