// Certificate digests for the package inventory. The inventory and the settings reader fill
// the library's AndroidPackage and AndroidSettings records with the platform's raw values; the
// core builds the compliance and evidence snapshots of them.

package org.portcullis.android.core

import java.security.MessageDigest

object Inventory {
    /**
     * SHA-256 of a DER certificate (`Signature.toByteArray()`) as 64 lower-case hex digits,
     * the form `apksigner verify --print-certs` prints and the policies' `Sha256Fingerprint`
     * accepts.
     */
    fun certificateSha256(der: ByteArray): String = sha256Hex(der)

    /** SHA-256 as 64 lower-case hex digits: certificates, and the memos of refused inputs. */
    fun sha256Hex(bytes: ByteArray): String =
        MessageDigest.getInstance("SHA-256").digest(bytes).joinToString("") {
            val b = it.toInt() and 0xff
            "${HEX[b ushr 4]}${HEX[b and 0x0f]}"
        }

    private const val HEX = "0123456789abcdef"
}
