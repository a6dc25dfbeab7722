// Key attestation on the phone, for the core's `Attest` action: generate an ECDSA P-256
// signing key with the console's challenge (StrongBox where present), let it sign the
// core's certification of the checkpoint key, and hand the chain back. The keystore calls
// sit behind [AttestationKeystore] so this glue runs on the JVM; the Android Keystore
// implementation is `AndroidAttestationKeystore`. Nothing here decides anything: the
// challenge and the statement come from the core, the console verifies the chain.

package org.portcullis.android.core

import org.portcullis.ActionOutcome
import java.io.IOException
import java.security.GeneralSecurityException
import java.security.ProviderException
import org.portcullis.AttestationAnswer

/** The platform keystore calls key attestation needs. */
interface AttestationKeystore {
    /**
     * Generates, replacing any earlier one, the ECDSA P-256 signing key [alias] with
     * [challenge] as its attestation challenge; in StrongBox when [strongBox]. Throws
     * [StrongBoxUnavailable] when StrongBox is asked for and the device has none.
     */
    fun generate(alias: String, challenge: ByteArray, strongBox: Boolean)

    /** SHA256withECDSA signature of [data] by [alias] (DER). */
    fun sign(alias: String, data: ByteArray): ByteArray

    /** [alias]'s certificate chain, DER, leaf first. */
    fun chain(alias: String): List<ByteArray>
}

/** The device has no StrongBox (`StrongBoxUnavailableException` on Android). */
class StrongBoxUnavailable : Exception("StrongBox is not available on this device")

/** What an attestation attempt gave. */
sealed class AttestationResult {
    /** The answer for the core's `submitAttestation`. */
    data class Answer(val answer: AttestationAnswer) : AttestationResult()

    /** Not done: the outcome to report instead. */
    data class NotDone(val outcome: ActionOutcome) : AttestationResult()
}

/** Carries out `Attest` actions with [keystore], under the key alias [alias]. */
class KeyAttestor(private val keystore: AttestationKeystore, private val alias: String = DEFAULT_ALIAS) {
    /** Generates the attested key (StrongBox first, the TEE when there is none), signs [certify], returns the chain. */
    fun attest(challenge: ByteArray, certify: ByteArray): AttestationResult = try {
        val fallback = try {
            keystore.generate(alias, challenge, strongBox = true)
            false
        } catch (e: StrongBoxUnavailable) {
            keystore.generate(alias, challenge, strongBox = false)
            true
        }
        val certification = keystore.sign(alias, certify)
        val chain = keystore.chain(alias)
        if (chain.size < 2) {
            AttestationResult.NotDone(ActionOutcome.NotPossible("the keystore gave no attestation chain (software keystore)"))
        } else {
            AttestationResult.Answer(AttestationAnswer(chain, certification, strongBox = !fallback, strongBoxFallback = fallback))
        }
    } catch (e: GeneralSecurityException) {
        AttestationResult.NotDone(ActionOutcome.Failed(KeystoreErrors.reason(e)))
    } catch (e: IOException) {
        AttestationResult.NotDone(ActionOutcome.Failed(KeystoreErrors.reason(e)))
    } catch (e: ProviderException) {
        AttestationResult.NotDone(ActionOutcome.Failed(KeystoreErrors.reason(e)))
    }

    companion object {
        /** The attested key's alias, apart from the device key's. */
        const val DEFAULT_ALIAS = "portcullis-attestation"
    }
}
