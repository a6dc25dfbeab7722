//! The evidence snapshot across the boundary, typed: the platform fills the sections it can
//! see and the core validates them (digest lengths, files without a path or name), naming
//! the field it refuses. Conversions only.

use std::time::SystemTime;

use portcullis_core::inspection::evidence as core;
use portcullis_core::platform;

use crate::compliance::Platform;
use crate::types::to_timestamp;

/// What an inspection collected from the phone. Every section may stay empty: a platform
/// leaves out what it cannot see.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EvidenceSnapshot {
    /// When it was collected.
    #[uniffi(default = None)]
    pub collected_at: Option<SystemTime>,
    /// The platform that produced it.
    #[uniffi(default = None)]
    pub platform: Option<Platform>,
    /// Installed apps with signing certificates and installers.
    #[uniffi(default = [])]
    pub packages: Vec<EvidencePackage>,
    /// Enabled accessibility services.
    #[uniffi(default = [])]
    pub accessibility_services: Vec<EvidenceComponent>,
    /// Active device administrators.
    #[uniffi(default = [])]
    pub device_admins: Vec<EvidenceComponent>,
    /// Enabled notification listeners.
    #[uniffi(default = [])]
    pub notification_listeners: Vec<EvidenceComponent>,
    /// VPN configurations.
    #[uniffi(default = [])]
    pub vpn: Vec<EvidenceVpn>,
    /// The global HTTP proxy, if one is set.
    #[uniffi(default = None)]
    pub proxy: Option<EvidenceProxy>,
    /// The private DNS host name, if one is set.
    #[uniffi(default = None)]
    pub private_dns: Option<String>,
    /// User-installed CA certificates.
    #[uniffi(default = [])]
    pub user_ca_certificates: Vec<EvidenceCertificate>,
    /// System properties.
    #[uniffi(default = [])]
    pub system_properties: Vec<EvidenceProperty>,
    /// System settings.
    #[uniffi(default = [])]
    pub settings: Vec<EvidenceSetting>,
    /// Files, by path or name, with digests.
    #[uniffi(default = [])]
    pub files: Vec<EvidenceFile>,
    /// Running processes.
    #[uniffi(default = [])]
    pub processes: Vec<EvidenceProcess>,
    /// Domain names looked up or contacted.
    #[uniffi(default = [])]
    pub domains: Vec<EvidenceContact>,
    /// URLs fetched.
    #[uniffi(default = [])]
    pub urls: Vec<EvidenceContact>,
    /// IP addresses contacted.
    #[uniffi(default = [])]
    pub ip_addresses: Vec<EvidenceContact>,
    /// iOS configuration profiles.
    #[uniffi(default = [])]
    pub configuration_profiles: Vec<EvidenceProfile>,
    /// E-mail addresses seen.
    #[uniffi(default = [])]
    pub email_addresses: Vec<EvidenceContact>,
}

/// An installed app.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EvidencePackage {
    /// Package name or bundle id.
    pub id: String,
    /// Human-readable version.
    #[uniffi(default = None)]
    pub version_name: Option<String>,
    /// Android `getLongVersionCode()` as reported; a negative one is not a version code.
    #[uniffi(default = None)]
    pub version_code: Option<i64>,
    /// The installer package, if known.
    #[uniffi(default = None)]
    pub installer: Option<String>,
    /// Part of the system image.
    #[uniffi(default = false)]
    pub system: bool,
    /// Signing certificates.
    #[uniffi(default = [])]
    pub certificates: Vec<EvidenceCertificate>,
}

/// A certificate by digest (hex, any case, `:` separators allowed).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EvidenceCertificate {
    /// Subject name, for the report.
    #[uniffi(default = None)]
    pub subject: Option<String>,
    /// SHA-256 of the DER certificate.
    #[uniffi(default = None)]
    pub sha256: Option<String>,
    /// SHA-1 of the DER certificate.
    #[uniffi(default = None)]
    pub sha1: Option<String>,
    /// MD5 of the DER certificate.
    #[uniffi(default = None)]
    pub md5: Option<String>,
}

/// An app component holding a privilege.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EvidenceComponent {
    /// Its package.
    pub package: String,
    /// Its class name.
    #[uniffi(default = None)]
    pub class: Option<String>,
}

/// A VPN configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EvidenceVpn {
    /// The app providing it.
    #[uniffi(default = None)]
    pub package: Option<String>,
    /// The server.
    #[uniffi(default = None)]
    pub server: Option<String>,
    /// Connected now.
    #[uniffi(default = false)]
    pub active: bool,
    /// Always-on.
    #[uniffi(default = false)]
    pub always_on: bool,
    /// Lockdown.
    #[uniffi(default = false)]
    pub lockdown: bool,
}

/// The global HTTP proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EvidenceProxy {
    /// Host.
    #[uniffi(default = None)]
    pub host: Option<String>,
    /// Port.
    #[uniffi(default = None)]
    pub port: Option<u16>,
    /// PAC URL.
    #[uniffi(default = None)]
    pub pac_url: Option<String>,
    /// Hosts that bypass it.
    #[uniffi(default = [])]
    pub exclusions: Vec<String>,
}

/// A system property.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EvidenceProperty {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// A system setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EvidenceSetting {
    /// `global`, `secure` or `system` on Android.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its value as text.
    pub value: String,
}

/// A file.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EvidenceFile {
    /// Full path.
    #[uniffi(default = None)]
    pub path: Option<String>,
    /// File name.
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// SHA-256 of the contents.
    #[uniffi(default = None)]
    pub sha256: Option<String>,
    /// SHA-1 of the contents.
    #[uniffi(default = None)]
    pub sha1: Option<String>,
    /// MD5 of the contents.
    #[uniffi(default = None)]
    pub md5: Option<String>,
}

/// A process.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EvidenceProcess {
    /// Its name.
    pub name: String,
    /// Its process id.
    #[uniffi(default = None)]
    pub pid: Option<u32>,
    /// Its executable's path.
    #[uniffi(default = None)]
    pub path: Option<String>,
}

/// A domain, URL, IP address or e-mail address seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EvidenceContact {
    /// The value itself.
    pub value: String,
    /// Where it was seen (`dns`, `proxy_log`, ...).
    #[uniffi(default = None)]
    pub source: Option<String>,
    /// When it was last seen.
    #[uniffi(default = None)]
    pub seen_at: Option<SystemTime>,
}

/// An iOS configuration profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct EvidenceProfile {
    /// `PayloadUUID`.
    #[uniffi(default = None)]
    pub uuid: Option<String>,
    /// `PayloadIdentifier`.
    #[uniffi(default = None)]
    pub identifier: Option<String>,
    /// `PayloadDisplayName`.
    #[uniffi(default = None)]
    pub display_name: Option<String>,
    /// `PayloadOrganization`.
    #[uniffi(default = None)]
    pub organization: Option<String>,
}

fn certificate(c: EvidenceCertificate) -> core::Certificate {
    core::Certificate {
        subject: c.subject,
        sha256: c.sha256,
        sha1: c.sha1,
        md5: c.md5,
    }
}

fn component(c: EvidenceComponent) -> core::Component {
    core::Component {
        package: c.package,
        class: c.class,
    }
}

fn contact(c: EvidenceContact) -> core::Contact {
    core::Contact {
        value: c.value,
        source: c.source,
        seen_at: c.seen_at.map(to_timestamp),
    }
}

fn all<A, B>(items: Vec<A>, f: impl FnMut(A) -> B) -> Vec<B> {
    items.into_iter().map(f).collect()
}

impl From<EvidenceSnapshot> for core::EvidenceSnapshot {
    fn from(e: EvidenceSnapshot) -> Self {
        core::EvidenceSnapshot {
            version: core::EVIDENCE_VERSION,
            collected_at: e.collected_at.map(to_timestamp),
            platform: e.platform.map(Into::into),
            packages: all(platform::first_of_each(e.packages, |p| p.id.clone()), |p| {
                core::Package {
                    id: p.id,
                    version_name: p.version_name,
                    version_code: p.version_code.and_then(platform::version_code),
                    installer: p.installer,
                    system: p.system,
                    certificates: all(
                        platform::first_of_each(p.certificates, |c| {
                            (c.subject.clone(), c.sha256.clone())
                        }),
                        certificate,
                    ),
                }
            }),
            accessibility_services: all(
                platform::first_of_each(e.accessibility_services, |c| {
                    (c.package.clone(), c.class.clone())
                }),
                component,
            ),
            device_admins: all(e.device_admins, component),
            notification_listeners: all(e.notification_listeners, component),
            vpn: all(e.vpn, |v| core::Vpn {
                package: v.package,
                server: v.server,
                active: v.active,
                always_on: v.always_on,
                lockdown: v.lockdown,
            }),
            proxy: e.proxy.map(|p| core::Proxy {
                host: p.host,
                port: p.port,
                pac_url: p.pac_url,
                exclusions: p.exclusions,
            }),
            private_dns: e.private_dns,
            user_ca_certificates: all(
                platform::first_of_each(e.user_ca_certificates, |c| {
                    (c.subject.clone(), c.sha256.clone())
                }),
                certificate,
            ),
            system_properties: all(e.system_properties, |p| core::Property {
                name: p.name,
                value: p.value,
            }),
            settings: all(e.settings, |s| core::Setting {
                namespace: s.namespace,
                name: s.name,
                value: s.value,
            }),
            files: all(e.files, |f| core::File {
                path: f.path,
                name: f.name,
                sha256: f.sha256,
                sha1: f.sha1,
                md5: f.md5,
            }),
            processes: all(e.processes, |p| core::Process {
                name: p.name,
                pid: p.pid,
                path: p.path,
            }),
            domains: all(e.domains, contact),
            urls: all(e.urls, contact),
            ip_addresses: all(e.ip_addresses, contact),
            configuration_profiles: all(e.configuration_profiles, |p| core::ConfigurationProfile {
                uuid: p.uuid,
                identifier: p.identifier,
                display_name: p.display_name,
                organization: p.organization,
            }),
            email_addresses: all(e.email_addresses, contact),
        }
    }
}
