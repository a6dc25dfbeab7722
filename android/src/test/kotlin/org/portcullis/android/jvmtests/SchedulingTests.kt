// Wake-ups from the real core: nextWakeup() and the duties of each wake-up. Nothing is
// planned in Kotlin any more: the scheduler arms a timer at nextWakeup() and calls wake().

package org.portcullis.android.jvmtests

import java.time.Duration
import org.portcullis.BootVerdict
import org.portcullis.android.core.ServiceReading

fun schedulingTests() {
    test("the real core's nextWakeup survives reopening and carries the port-out deadline") { s ->
        withFixture(s) { f ->
            eq(true, f.feeder.wake(at(0).minus(Duration.ofMinutes(5)))?.duties?.rereadRadio, "re-read at the first wake-up")
            f.feeder.connectivity(org.portcullis.Connectivity(wifi = true, cellularData = false, airplaneMode = false))
            f.feeder.sim(ready(ICCID_A))
            f.clock.set(100)
            f.feeder.service(ServiceReading(0, ServiceStates.OUT_OF_SERVICE))
        }
        openAgent(s, at(200)).use { again ->
            eq(at(700), again.nextWakeup(), "the port-out deadline after reopening")
        }
    }

    test("wake-ups: the re-read every hour by default, each duty handed out once, the boot instant judged") { s ->
        withFixture(s) { f ->
            val boot = at(0).minus(Duration.ofMinutes(5))
            val first = f.feeder.wake(boot) ?: fail("wake-up failed")
            eq(BootVerdict.FIRST_REPORT, first.boot, "first boot instant")
            expect(first.duties.rereadRadio && !first.duties.evaluateCompliance) { "${first.duties}" }
            eq(at(3600), first.nextWakeup, "the next re-read, an hour on")
            f.clock.set(60)
            val again = f.feeder.wake(boot.plusSeconds(1)) ?: fail("wake-up failed")
            eq(BootVerdict.SAME_BOOT, again.boot, "a second of jitter is the same boot")
            expect(!again.duties.rereadRadio) { "handed out once" }
            f.clock.set(7200)
            val restarted = f.feeder.wake(at(7000)) ?: fail("wake-up failed")
            eq(BootVerdict.REBOOTED, restarted.boot, "a later boot instant is a reboot")
            expect(restarted.duties.rereadRadio) { "re-read due again" }
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
