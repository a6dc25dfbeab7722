// Platform callbacks arrive on several threads; the core must see each slot's readings in
// the order they happened. Every input goes through one queue, handled one at a time.

package org.portcullis.android.core

import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch

/**
 * Runs submitted blocks one after another, in submission order, on [scope]; a block that
 * suspends (every agent call does) holds the queue until it finishes. A block that throws is
 * reported to [onError] and the queue goes on.
 */
class InputQueue(scope: CoroutineScope, private val onError: (Throwable) -> Unit = {}) {
    private val blocks = Channel<suspend () -> Unit>(Channel.UNLIMITED)

    init {
        scope.launch {
            for (block in blocks) {
                try {
                    block()
                } catch (e: CancellationException) {
                    throw e
                } catch (e: Throwable) {
                    onError(e)
                }
            }
        }
    }

    /** Queues [block]; returns at once, from any thread. False once the queue is closed. */
    fun submit(block: suspend () -> Unit): Boolean = blocks.trySend(block).isSuccess

    /** Stops taking blocks; queued ones still run. */
    fun close() {
        blocks.close()
    }
}
