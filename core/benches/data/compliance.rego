# The compliance rules of portcullis-core (core/src/compliance/rules.rs) written in
# Rego, for the benchmark in core/benches/compliance.rs: the same allowlist and
# configuration policy, evaluated by regorus against the same snapshot JSON, must
# give the same verdicts as the Rust engine.
#
# data.rules      Android app rules keyed by package name:
#                 {"installType", "certs": [lower-case hex], "minVersion"?, "installers"?}
# data.forced     package names of FORCE_INSTALLED rules
# data.mode       ALLOWLIST | BLOCKLIST | AUDIT
# data.installers the section's accepted installers
# data.config     the policy's `configuration` section as the Rust model serialises it
# data.patchFloor the rolling patch floor (today - maximumSecurityPatchAgeDays), YYYY-MM-DD
# input           the device snapshot (portcullis/snapshot/v1), certificates as lower-case hex
#
# Scope: Android snapshots (the iOS version rule is only NOT_APPLICABLE here).
package portcullis.compliance

import rego.v1

# ---------------------------------------------------------------- verdicts

verdict(reasons, unobserved) := {"status": "NON_COMPLIANT", "reasons": reasons, "unobserved": unobserved} if {
	count(reasons) > 0
}

verdict(reasons, unobserved) := {"status": "UNKNOWN", "reasons": reasons, "unobserved": unobserved} if {
	count(reasons) == 0
	count(unobserved) > 0
}

verdict(reasons, unobserved) := {"status": "COMPLIANT", "reasons": reasons, "unobserved": unobserved} if {
	count(reasons) == 0
	count(unobserved) == 0
}

na := {"status": "NOT_APPLICABLE", "reasons": set(), "unobserved": set()}

unknown(fact) := verdict(set(), {fact})

judged(true, _) := verdict(set(), set())

judged(false, reason) := verdict({reason}, set())

missing(obj, key) if object.get(obj, key, null) == null

android if input.platform == "android"

os := object.get(input, "os", {})

settings := object.get(input, "settings", {})

config := data.config

verdicts[k] := v if some k, v in app_verdicts

verdicts[k] := v if some k, v in setting_verdicts

# One complete rule per setting (the RVM compiles no constant-key partial objects).
setting_verdicts := {
	"configuration.minimumApiLevel": v_minimum_api_level,
	"configuration.minimumIosVersion": v_minimum_ios_version,
	"configuration.minimumSecurityPatchLevel": v_minimum_security_patch_level,
	"configuration.maximumSecurityPatchAgeDays": v_maximum_security_patch_age_days,
	"configuration.passwordRequirements.passwordQuality": v_password_quality,
	"configuration.passwordRequirements.maximumFailedPasswordsForWipe": v_maximum_failed_passwords_for_wipe,
	"configuration.maximumTimeToLock": v_maximum_time_to_lock,
	"configuration.encryptionPolicy": v_encryption_policy,
	"configuration.advancedSecurityOverrides.untrustedAppsPolicy": v_untrusted_apps_policy,
	"configuration.advancedSecurityOverrides.developerSettings": v_developer_settings,
	"configuration.advancedSecurityOverrides.googlePlayProtectVerifyApps": v_google_play_protect_verify_apps,
	"configuration.deviceRadioState.cellularTwoGState": v_cellular_two_g_state,
	"configuration.mobileNetworksConfigDisabled": v_mobile_networks_config_disabled,
	"configuration.debuggingFeaturesAllowed": v_debugging_features_allowed,
	"configuration.deviceConnectivityManagement.usbDataAccess": v_usb_data_access,
	"configuration.alwaysOnVpnPackage": v_always_on_vpn_package,
	"configuration.userInstalledCaCerts": v_user_installed_ca_certs,
	"configuration.permittedAccessibilityServices": v_permitted_accessibility_services,
	"agent.uninstallBlocked": v_agent_uninstall_blocked,
}

verdicts[k] := verdict(set(), set()) if {
	input.apps
	k := "apps"
}

# ---------------------------------------------------------------- apps

installed contains app.id if some app in input.apps

rule_of(id) := data.rules[id]

rule_of(id) := {} if not data.rules[id]

app_verdicts[k] := v if {
	some app in input.apps
	rule := rule_of(app.id)
	k := concat("", ["app:", app.id])
	v := verdict(app_reasons(app, rule), app_unobserved(app, rule))
}

app_verdicts[k] := {"status": "NON_COMPLIANT", "reasons": {"APP_NOT_INSTALLED"}, "unobserved": set()} if {
	some id in data.forced
	not id in installed
	k := concat("", ["app:", id])
}

app_reasons(_, rule) := {"APP_INSTALLED"} if rule.installType == "BLOCKED"

app_reasons(app, rule) := r if {
	not rule.installType == "BLOCKED"
	r := (({"APP_NOT_IN_ALLOWLIST" | not_allowlisted(app, rule)} | {"APP_SIGNING_CERT_MISMATCH" | cert_mismatch(app, rule)}) | {"APP_NOT_UPDATED" | not_updated(app, rule)}) | {"INSTALLER_NOT_ALLOWED" | installer_refused(app, rule)}
}

app_unobserved(_, rule) := set() if rule.installType == "BLOCKED"

app_unobserved(app, rule) := u if {
	not rule.installType == "BLOCKED"
	u := ({"apps[].signingCertsSha256" | certs_unknown(app, rule)} | {"apps[].versionCode" | version_unknown(app, rule)}) | {"apps[].installSource" | source_unknown(app, rule)}
}

app_certs(app) := object.get(app, "signingCertsSha256", [])

not_allowlisted(app, rule) if {
	count(rule) == 0
	data.mode != "BLOCKLIST"
	not app.system
}

cert_mismatch(app, rule) if {
	count(rule.certs) > 0
	count(app_certs(app)) > 0
	not cert_matches(app, rule)
}

cert_matches(app, rule) if {
	some c in app.signingCertsSha256
	c in rule.certs
}

certs_unknown(app, rule) if {
	count(rule.certs) > 0
	count(app_certs(app)) == 0
}

not_updated(app, rule) if app.versionCode < rule.minVersion

version_unknown(app, rule) if {
	rule.minVersion
	missing(app, "versionCode")
}

allowed_installers(rule) := rule.installers

allowed_installers(rule) := data.installers if not rule.installers

installer_refused(app, rule) if {
	not app.system
	allowed := allowed_installers(rule)
	count(allowed) > 0
	source := app.installSource
	not installer_in(source, allowed)
}

installer_in(source, allowed) if {
	some i in allowed
	source.installingPackageName == i
}

source_unknown(app, rule) if {
	not app.system
	count(allowed_installers(rule)) > 0
	missing(app, "installSource")
}

# ---------------------------------------------------------------- configuration

v_minimum_api_level := na if not android

v_minimum_api_level := na if missing(config, "minimumApiLevel")

v_minimum_api_level := unknown("os.apiLevel") if {
	android
	config.minimumApiLevel
	missing(os, "apiLevel")
}

v_minimum_api_level := judged(os.apiLevel >= config.minimumApiLevel, "OS_NOT_PERMITTED") if android

v_minimum_ios_version := na if android

v_minimum_security_patch_level := na if not android

v_minimum_security_patch_level := na if missing(config, "minimumSecurityPatchLevel")

v_minimum_security_patch_level := unknown("os.securityPatchLevel") if {
	android
	config.minimumSecurityPatchLevel
	missing(os, "securityPatchLevel")
}

v_minimum_security_patch_level := judged(os.securityPatchLevel >= config.minimumSecurityPatchLevel, "SECURITY_PATCH_LEVEL") if android

v_maximum_security_patch_age_days := na if not android

v_maximum_security_patch_age_days := na if missing(config, "maximumSecurityPatchAgeDays")

v_maximum_security_patch_age_days := unknown("os.securityPatchLevel") if {
	android
	config.maximumSecurityPatchAgeDays
	missing(os, "securityPatchLevel")
}

v_maximum_security_patch_age_days := judged(os.securityPatchLevel >= data.patchFloor, "SECURITY_PATCH_LEVEL") if {
	android
	config.maximumSecurityPatchAgeDays
}

complexity_rank := {"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}

quality_rank := {"COMPLEXITY_LOW": 1, "COMPLEXITY_MEDIUM": 2, "COMPLEXITY_HIGH": 3}

v_password_quality := na if missing(config, "passwordRequirements")

v_password_quality := unknown("settings.passwordComplexity") if {
	config.passwordRequirements
	missing(settings, "passwordComplexity")
}

v_password_quality := judged(complexity_rank[settings.passwordComplexity] >= quality_rank[config.passwordRequirements.passwordQuality], "PASSWORD_POLICIES_PASSWORD_NOT_SUFFICIENT")

max_failed := object.get(object.get(config, "passwordRequirements", {}), "maximumFailedPasswordsForWipe", null)

default failed_ok := false

failed_ok if {
	n := settings.maximumFailedPasswordsForWipe
	n != 0
	n <= max_failed
}

v_maximum_failed_passwords_for_wipe := na if max_failed == null

v_maximum_failed_passwords_for_wipe := unknown("settings.maximumFailedPasswordsForWipe") if {
	max_failed != null
	missing(settings, "maximumFailedPasswordsForWipe")
}

v_maximum_failed_passwords_for_wipe := judged(failed_ok, "MAXIMUM_FAILED_PASSWORDS_FOR_WIPE") if {
	max_failed != null
	not missing(settings, "maximumFailedPasswordsForWipe")
}

default lock_ok := false

lock_ok if {
	ms := settings.maximumTimeToLock
	ms != 0
	ms <= config.maximumTimeToLock
}

v_maximum_time_to_lock := na if missing(config, "maximumTimeToLock")

v_maximum_time_to_lock := unknown("settings.maximumTimeToLock") if {
	config.maximumTimeToLock
	missing(settings, "maximumTimeToLock")
}

v_maximum_time_to_lock := judged(lock_ok, "MAXIMUM_TIME_TO_LOCK") if {
	config.maximumTimeToLock
	not missing(settings, "maximumTimeToLock")
}

default encryption_ok := false

encryption_ok if {
	config.encryptionPolicy == "ENABLED_WITHOUT_PASSWORD"
	settings.encryption != "UNENCRYPTED"
}

encryption_ok if {
	config.encryptionPolicy == "ENABLED_WITH_PASSWORD"
	settings.encryption == "ENCRYPTED_WITH_PASSWORD"
}

v_encryption_policy := na if missing(config, "encryptionPolicy")

v_encryption_policy := unknown("settings.encryption") if {
	config.encryptionPolicy
	missing(settings, "encryption")
}

v_encryption_policy := judged(encryption_ok, "ENCRYPTION_POLICY") if {
	config.encryptionPolicy
	not missing(settings, "encryption")
}

overrides := config.advancedSecurityOverrides

# A boolean setting that must have the value `want`; `applies` says whether the rule is set.
bool_verdict(applies, _, _, _, _) := na if not applies

bool_verdict(true, key, _, fact, _) := unknown(fact) if missing(settings, key)

bool_verdict(true, key, want, _, reason) := judged(settings[key] == want, reason)

default untrusted_applies := false

untrusted_applies if {
	android
	overrides.untrustedAppsPolicy != "ALLOW_INSTALL_DEVICE_WIDE"
}

v_untrusted_apps_policy := bool_verdict(untrusted_applies, "unknownSourcesAllowed", false, "settings.unknownSourcesAllowed", "UNKNOWN_SOURCES_ALLOWED")

default developer_applies := false

developer_applies if {
	android
	overrides.developerSettings == "DEVELOPER_SETTINGS_DISABLED"
}

v_developer_settings := bool_verdict(developer_applies, "developerOptionsEnabled", false, "settings.developerOptionsEnabled", "DEVELOPER_OPTIONS_ENABLED")

default verify_applies := false

verify_applies if {
	android
	overrides.googlePlayProtectVerifyApps == "VERIFY_APPS_ENFORCED"
}

v_google_play_protect_verify_apps := bool_verdict(verify_applies, "verifyAppsEnabled", true, "settings.verifyAppsEnabled", "VERIFY_APPS_DISABLED")

default two_g_applies := false

two_g_applies if config.deviceRadioState.cellularTwoGState == "CELLULAR_TWO_G_DISABLED"

v_cellular_two_g_state := bool_verdict(two_g_applies, "cellular2gEnabled", false, "settings.cellular2gEnabled", "CELLULAR_2G_ENABLED")

default mobile_networks_applies := false

mobile_networks_applies if {
	android
	config.mobileNetworksConfigDisabled == true
}

v_mobile_networks_config_disabled := bool_verdict(mobile_networks_applies, "mobileNetworksConfigDisabled", true, "settings.mobileNetworksConfigDisabled", "MOBILE_NETWORKS_CONFIG_ALLOWED")

v_debugging_features_allowed := na if not android

v_debugging_features_allowed := na if config.debuggingFeaturesAllowed == true

v_debugging_features_allowed := verdict(reasons, unobserved) if {
	android
	config.debuggingFeaturesAllowed == false
	reasons := {"DEBUGGING_ENABLED" | some key in ["usbDebuggingEnabled", "wirelessDebuggingEnabled"]; settings[key] == true}
	unobserved := {concat("", ["settings.", key]) | some key in ["usbDebuggingEnabled", "wirelessDebuggingEnabled"]; missing(settings, key)}
}

usb_rank := {"ALLOW_USB_DATA_TRANSFER": 0, "DISALLOW_USB_FILE_TRANSFER": 1, "DISALLOW_USB_DATA_TRANSFER": 2}

v_usb_data_access := na if not android

v_usb_data_access := na if missing(config, "deviceConnectivityManagement")

v_usb_data_access := unknown("settings.usbDataAccess") if {
	android
	config.deviceConnectivityManagement
	missing(settings, "usbDataAccess")
}

v_usb_data_access := judged(usb_rank[settings.usbDataAccess] >= usb_rank[config.deviceConnectivityManagement.usbDataAccess], "USB_DATA_ACCESS") if android

default vpn_ok := false

vpn_ok if {
	vpn := settings.alwaysOnVpn
	vpn.packageName == config.alwaysOnVpnPackage.packageName
	vpn_lockdown_ok(vpn)
}

vpn_lockdown_ok(vpn) if object.get(vpn, "lockdownEnabled", false) == true

vpn_lockdown_ok(_) if object.get(config.alwaysOnVpnPackage, "lockdownEnabled", false) == false

v_always_on_vpn_package := na if not android

v_always_on_vpn_package := na if missing(config, "alwaysOnVpnPackage")

v_always_on_vpn_package := unknown("settings.alwaysOnVpn") if {
	android
	config.alwaysOnVpnPackage
	missing(settings, "alwaysOnVpn")
}

v_always_on_vpn_package := judged(vpn_ok, "ALWAYS_ON_VPN") if {
	android
	config.alwaysOnVpnPackage
	not missing(settings, "alwaysOnVpn")
}

allowed_cas := object.get(config.userInstalledCaCerts, "allowedFingerprintsSha256", [])

default cas_ok := false

cas_ok if {
	every c in settings.userCaCertsSha256 {
		c in allowed_cas
	}
}

v_user_installed_ca_certs := na if config.userInstalledCaCerts.allowed == true

v_user_installed_ca_certs := unknown("settings.userCaCertsSha256") if {
	config.userInstalledCaCerts.allowed == false
	missing(settings, "userCaCertsSha256")
}

v_user_installed_ca_certs := judged(cas_ok, "USER_CA_CERT_INSTALLED") if {
	config.userInstalledCaCerts.allowed == false
	not missing(settings, "userCaCertsSha256")
}

default services_ok := false

services_ok if {
	every s in settings.accessibilityServices {
		service_permitted(s)
	}
}

service_permitted(s) if s.system == true

service_permitted(s) if s.packageName in config.permittedAccessibilityServices.packageNames

v_permitted_accessibility_services := na if not android

v_permitted_accessibility_services := na if missing(config, "permittedAccessibilityServices")

v_permitted_accessibility_services := unknown("settings.accessibilityServices") if {
	android
	config.permittedAccessibilityServices
	missing(settings, "accessibilityServices")
}

v_permitted_accessibility_services := judged(services_ok, "ACCESSIBILITY_SERVICE_NOT_PERMITTED") if {
	android
	config.permittedAccessibilityServices
	not missing(settings, "accessibilityServices")
}

agent := object.get(input, "agent", {})

v_agent_uninstall_blocked := na if not android

v_agent_uninstall_blocked := unknown("agent.uninstallBlocked") if {
	android
	missing(agent, "uninstallBlocked")
}

v_agent_uninstall_blocked := judged(agent.uninstallBlocked, "AGENT_UNINSTALL_NOT_BLOCKED") if android
