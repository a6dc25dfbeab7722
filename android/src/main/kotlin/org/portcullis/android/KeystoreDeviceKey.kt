// The device key in the Android Keystore: an HmacSHA256 key for signing only, generated
// inside the Keystore (StrongBox when the device has one) and never exportable.

package org.portcullis.android

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.security.keystore.StrongBoxUnavailableException
import java.io.IOException
import java.security.GeneralSecurityException
import java.security.ProviderException
import java.security.KeyStore
import javax.crypto.KeyGenerator
import javax.crypto.Mac
import javax.crypto.SecretKey
import org.portcullis.DeviceKey
import org.portcullis.PortcullisException
import org.portcullis.android.core.KeystoreErrors

/**
 * [DeviceKey] backed by the Android Keystore key [alias] (created on first use).
 *
 * The same key must come back on every start: the core stores identifiers as keyed hashes
 * under it and refuses to open its database with a different key (`DeviceKey` error) rather
 * than report every SIM as replaced. If the key is lost (factory reset, Keystore wipe), the
 * device must be re-enrolled.
 */
class KeystoreDeviceKey internal constructor(
    private val alias: String,
    private val keySource: ((String) -> SecretKey)?,
) : DeviceKey {
    constructor(alias: String = DEFAULT_ALIAS) : this(alias, null)

    @Volatile
    private var cached: SecretKey? = null

    override fun hmacSha256(message: ByteArray): ByteArray {
        try {
            val mac = Mac.getInstance(KeyProperties.KEY_ALGORITHM_HMAC_SHA256)
            mac.init(key())
            return mac.doFinal(message)
        } catch (e: GeneralSecurityException) {
            throw PortcullisException.DeviceKey(KeystoreErrors.reason(e))
        } catch (e: IOException) {
            // KeyStore.load: the keystore service is unreachable or its data unreadable.
            throw PortcullisException.DeviceKey(KeystoreErrors.reason(e))
        } catch (e: ProviderException) {
            // The Keystore's own failures (KeyStoreException inside), unchecked.
            throw PortcullisException.DeviceKey(KeystoreErrors.reason(e))
        }
    }

    private fun key(): SecretKey {
        cached?.let { return it }
        synchronized(this) {
            cached?.let { return it }
            val key = keySource?.invoke(alias) ?: run {
                val store = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }
                (store.getKey(alias, null) as? SecretKey) ?: generate()
            }
            cached = key
            return key
        }
    }

    private fun generate(): SecretKey {
        fun spec(strongBox: Boolean) = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_SIGN)
            .setIsStrongBoxBacked(strongBox)
            .build()
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_HMAC_SHA256, ANDROID_KEYSTORE)
        return try {
            generator.init(spec(strongBox = true))
            generator.generateKey()
        } catch (e: StrongBoxUnavailableException) {
            generator.init(spec(strongBox = false))
            generator.generateKey()
        }
    }

    companion object {
        const val DEFAULT_ALIAS = "org.portcullis.device-key"
        private const val ANDROID_KEYSTORE = "AndroidKeyStore"
    }
}
