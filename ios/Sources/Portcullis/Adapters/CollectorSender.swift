// Sends the journal uploads the core builds (`nextUpload`) with URLSession, accepting only a
// collector certificate whose SHA-256 is among the request's pins. Decides nothing: each
// status (0 when no response came, a refused pin included) and body go back to the core's
// `uploadResponse`, which decides retries; the loop ends when the core has nothing to send.

import CryptoKit
import Foundation
import Security

public final class CollectorSender: NSObject, URLSessionDelegate {
    private var pins: [String] = []

    public func ship(agent: Agent, maxBytes: UInt64 = 1_048_576, now: Date = Date()) async throws {
        while let request = try await agent.nextUpload(maxBytes: maxBytes, now: now) {
            pins = request.certificateSha256
            guard let url = URL(string: request.url) else {
                _ = try await agent.uploadResponse(status: 0, body: Data(), now: now)
                continue
            }
            var http = URLRequest(url: url, timeoutInterval: 30)
            http.httpMethod = request.method
            request.headers.forEach { http.setValue($0.value, forHTTPHeaderField: $0.name) }
            let session = URLSession(configuration: .ephemeral, delegate: self, delegateQueue: nil)
            defer { session.finishTasksAndInvalidate() }
            let (status, body): (UInt16, Data)
            if let (data, response) = try? await session.upload(for: http, from: request.body) {
                (status, body) = (UInt16((response as? HTTPURLResponse)?.statusCode ?? 0), data)
            } else {
                (status, body) = (0, Data())
            }
            _ = try await agent.uploadResponse(status: status, body: body, now: now)
        }
    }

    public func urlSession(_ session: URLSession, didReceive challenge: URLAuthenticationChallenge,
                           completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
        guard let trust = challenge.protectionSpace.serverTrust, SecTrustEvaluateWithError(trust, nil),
              let leaf = (SecTrustCopyCertificateChain(trust) as? [SecCertificate])?.first else {
            return completionHandler(.cancelAuthenticationChallenge, nil)
        }
        let digest = SHA256.hash(data: SecCertificateCopyData(leaf) as Data).map { String(format: "%02x", $0) }.joined()
        completionHandler(pins.contains(digest) ? .useCredential : .cancelAuthenticationChallenge,
                          pins.contains(digest) ? URLCredential(trust: trust) : nil)
    }
}
