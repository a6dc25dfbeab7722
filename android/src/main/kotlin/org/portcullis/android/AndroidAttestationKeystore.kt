// The Android Keystore side of key attestation: an ECDSA P-256 signing key generated with
// the console's attestation challenge, in StrongBox when the device has one. The device
// key (KeystoreDeviceKey) is an HMAC key, which Android cannot attest; this separate key
// certifies the checkpoint key instead (docs/attestation.md, "The checkpoint key").

package org.portcullis.android

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.Signature
import java.security.spec.ECGenParameterSpec
import org.portcullis.android.core.AttestationKeystore
import org.portcullis.android.core.StrongBoxUnavailable

/** [AttestationKeystore] over the Android Keystore. */
class AndroidAttestationKeystore : AttestationKeystore {
    override fun generate(alias: String, challenge: ByteArray, strongBox: Boolean) {
        val spec = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_SIGN)
            .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
            .setDigests(KeyProperties.DIGEST_SHA256)
            .setAttestationChallenge(challenge)
            .setIsStrongBoxBacked(strongBox)
            .build()
        val generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, ANDROID_KEYSTORE)
        try {
            generator.initialize(spec)
            generator.generateKeyPair()
        } catch (e: StrongBoxUnavailableException) {
            throw StrongBoxUnavailable()
        }
    }

    override fun sign(alias: String, data: ByteArray): ByteArray {
        val key = store().getKey(alias, null) as PrivateKey
        return Signature.getInstance("SHA256withECDSA").run {
            initSign(key)
            update(data)
            sign()
        }
    }

    override fun chain(alias: String): List<ByteArray> =
        store().getCertificateChain(alias)?.map { it.encoded }.orEmpty()

    private fun store(): KeyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }

    private companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"
    }
}
