// The device key: a 32-byte secret in the Keychain (this device only, readable after the
// first unlock), used with CryptoKit's HMAC<SHA256>.

#if canImport(CryptoKit) && canImport(Security)
import CryptoKit
import Foundation
import Security

/// `DeviceKey` backed by a Keychain generic-password item, created on first use with
/// `SecRandomCopyBytes`. `kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`: never in backups
/// or on another device, and usable in the background once the phone was unlocked after boot.
/// The same key must come back on every launch: the core refuses to open its database with
/// another one rather than report every identity as changed.
public final class KeychainDeviceKey: DeviceKey, @unchecked Sendable {
    private let service: String
    private let account: String
    private let lock = NSLock()
    private var cached: SymmetricKey?

    public init(service: String = "org.portcullis", account: String = "device-key") {
        self.service = service
        self.account = account
    }

    public func hmacSha256(message: Data) throws -> Data {
        let key = try loadOrCreate()
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: key)
        return Data(mac)
    }

    private func loadOrCreate() throws -> SymmetricKey {
        lock.lock()
        defer { lock.unlock() }
        if let cached {
            return cached
        }
        if let stored = try read() {
            let key = SymmetricKey(data: stored)
            cached = key
            return key
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        let random = SecRandomCopyBytes(kSecRandomDefault, bytes.count, &bytes)
        guard random == errSecSuccess else {
            throw PortcullisError.DeviceKey(reason: "SecRandomCopyBytes failed (\(random))")
        }
        let secret = Data(bytes)
        let attributes: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
            kSecAttrSynchronizable as String: false,
            kSecValueData as String: secret,
        ]
        let status = SecItemAdd(attributes as CFDictionary, nil)
        if status == errSecDuplicateItem, let stored = try read() {
            // Another process (an extension) created it first: use theirs.
            let key = SymmetricKey(data: stored)
            cached = key
            return key
        }
        guard status == errSecSuccess else {
            throw PortcullisError.DeviceKey(reason: "storing the key in the Keychain failed (OSStatus \(status))")
        }
        let key = SymmetricKey(data: secret)
        cached = key
        return key
    }

    private func read() throws -> Data? {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecReturnData as String: true,
            kSecMatchLimit as String: kSecMatchLimitOne,
        ]
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let data = item as? Data, data.count == 32 else {
                throw PortcullisError.DeviceKey(reason: "the Keychain item is not a 32-byte key")
            }
            return data
        case errSecItemNotFound:
            return nil
        case errSecInteractionNotAllowed:
            throw PortcullisError.DeviceKey(reason: "the Keychain is locked (before the first unlock after boot)")
        default:
            throw PortcullisError.DeviceKey(reason: "reading the key from the Keychain failed (OSStatus \(status))")
        }
    }
}
#endif
