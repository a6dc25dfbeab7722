// Sends one journal upload exactly as the core built it (Agent.nextUpload), over
// HttpsURLConnection, and accepts only a collector certificate whose SHA-256 is among the
// request's pins. Decides nothing: the status (0 when no response came, a refused pin
// included) and the body go back to the core's uploadResponse.

package org.portcullis.android.core

import java.io.IOException
import java.net.URL
import java.security.MessageDigest
import javax.net.ssl.HttpsURLConnection
import org.portcullis.UploadRequest

object CollectorSender {
    fun send(request: UploadRequest, timeoutMs: Int = 30_000): Pair<Int, ByteArray> {
        val conn = try {
            URL(request.url).openConnection() as? HttpsURLConnection ?: return 0 to ByteArray(0)
        } catch (e: IOException) {
            return 0 to ByteArray(0)
        }
        return try {
            conn.requestMethod = request.method
            conn.connectTimeout = timeoutMs
            conn.readTimeout = timeoutMs
            conn.doOutput = true
            request.headers.forEach { conn.setRequestProperty(it.name, it.value) }
            conn.connect()
            val leaf = MessageDigest.getInstance("SHA-256").digest(conn.serverCertificates[0].encoded)
            if (leaf.joinToString("") { "%02x".format(it) } !in request.certificateSha256) return 0 to ByteArray(0)
            conn.outputStream.use { it.write(request.body) }
            val status = conn.responseCode
            status to ((if (status < 400) conn.inputStream else conn.errorStream)?.use { it.readBytes() } ?: ByteArray(0))
        } catch (e: IOException) {
            0 to ByteArray(0)
        } finally {
            conn.disconnect()
        }
    }
}
