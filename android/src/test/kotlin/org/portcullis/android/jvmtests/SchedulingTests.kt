// WorkManager delays from nextWakeup() and delivery retries.

package org.portcullis.android.jvmtests

import java.time.Duration
import org.portcullis.android.core.ServiceReading
import org.portcullis.android.core.ServiceStates
import org.portcullis.android.core.WakeupPlan
import org.portcullis.android.core.WakeupPlanner
import org.portcullis.android.core.WakeupTracker

fun schedulingTests() {
    test("wake-up plans: nothing due cancels, the earlier time wins, a past time means now") {
        eq(WakeupPlan.Cancel, WakeupPlanner.plan(null, null, at(0)), "nothing due")
        eq(WakeupPlan.After(Duration.ofMinutes(10), at(600)), WakeupPlanner.plan(at(600), null, at(0)), "core only")
        eq(WakeupPlan.After(Duration.ofSeconds(30), at(30)), WakeupPlanner.plan(at(600), at(30), at(0)), "retry first")
        eq(WakeupPlan.After(Duration.ofSeconds(20), at(20)), WakeupPlanner.plan(at(20), at(30), at(0)), "core first")
        eq(WakeupPlan.After(Duration.ZERO, at(100)), WakeupPlanner.plan(at(40), null, at(100)), "overdue: run now")
        eq(WakeupPlan.After(Duration.ZERO, at(100)), WakeupPlanner.plan(at(100), null, at(100)), "due exactly now")
        eq(Duration.ofMillis(1), WakeupPlanner.delayUntil(at(0).plusMillis(1), at(0)), "millisecond precision")
        eq(null, WakeupPlanner.earliest(null, null), "earliest of nothing")
    }

    test("the wake-up tracker re-enqueues only when the time moves") {
        val t = WakeupTracker()
        expect(t.changed(WakeupPlan.Cancel)) { "first plan is applied" }
        expect(!t.changed(WakeupPlan.Cancel)) { "cancel again" }
        val plan = WakeupPlan.After(Duration.ofMinutes(10), at(600))
        expect(t.changed(plan)) { "new time" }
        expect(!t.changed(WakeupPlan.After(Duration.ofMinutes(9), at(600)))) { "same time seen a minute later" }
        expect(t.changed(WakeupPlan.After(Duration.ofMinutes(5), at(900)))) { "moved" }
        t.reset()
        expect(t.changed(WakeupPlan.After(Duration.ofMinutes(5), at(900)))) { "after reset (work consumed)" }
    }

    test("the real core's nextWakeup survives reopening, and the plan follows it") { s ->
        withFixture(s) { f ->
            f.feeder.connectivity(org.portcullis.Connectivity(wifi = true, cellularData = false, airplaneMode = false))
            f.feeder.sim(ready(ICCID_A))
            f.clock.set(100)
            f.feeder.service(ServiceReading(0, ServiceStates.OUT_OF_SERVICE))
        }
        openAgent(s, at(200)).use { again ->
            eq(WakeupPlan.After(Duration.ofSeconds(500), at(700)), WakeupPlanner.plan(again.nextWakeup(), null, at(200)), "plan after reopening")
        }
    }
}

fun inputQueueTests() {
    test("the input queue runs blocks in submission order even when they suspend, and survives a throw") {
        val order = java.util.Collections.synchronizedList(mutableListOf<Int>())
        val errors = mutableListOf<Throwable>()
        kotlinx.coroutines.coroutineScope {
            val queue = org.portcullis.android.core.InputQueue(this) { errors += it }
            val threads = (0 until 4).map { t ->
                Thread {
                    for (i in 0 until 25) queue.submit {
                        kotlinx.coroutines.delay((i % 3).toLong())
                        order += t * 100 + i
                    }
                }
            }
            threads.forEach { it.start() }
            threads.forEach { it.join() }
            queue.submit { throw IllegalStateException("boom") }
            queue.submit { order += -1 }
            queue.close()
        }
        eq(101, order.size, "all ran")
        eq(-1, order.last(), "ran after the throw")
        for (t in 0 until 4) {
            val mine = order.filter { it >= t * 100 && it < t * 100 + 100 }
            eq(mine.sorted(), mine, "thread $t's blocks in its submission order")
        }
        eq(1, errors.size, "errors")
    }
}
