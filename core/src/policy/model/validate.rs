//! Parsing, and the rules serde cannot express, each naming the offending field's path.

use super::*;

// ---------------------------------------------------------------------------------
// Parsing and validation

impl Policy {
    /// Parses and validates a policy document. Errors name the field and the rule.
    pub fn from_json(bytes: &[u8]) -> crate::Result<Policy> {
        let policy: Policy = crate::json::from_slice(bytes)
            .map_err(|e| PolicyError::document("policy document", &e))?;
        policy.validate()?;
        Ok(policy)
    }

    /// The document as pretty JSON (the form the signing tool embeds in bundles).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a policy always serialises")
    }

    /// Checks the rules serde cannot express; the error names the path and the rule.
    pub fn validate(&self) -> crate::Result<()> {
        if self.name.trim().is_empty() || self.name.chars().count() > 64 {
            return Err(invalid("name", "must be 1 to 64 characters").into());
        }
        self.validate_apps()?;
        self.validate_configuration()?;
        self.validate_sim()?;
        self.validate_inspection()?;
        self.validate_escalation()?;
        self.validate_telemetry()?;
        self.validate_upload()?;
        self.validate_device_integrity()?;
        let limits = &self.instructions;
        if !(1..=MAX_INSTRUCTION_LIFETIME_HOURS).contains(&limits.max_lifetime_hours) {
            return Err(invalid(
                "instructions.maxLifetimeHours",
                format!("must be 1 to {MAX_INSTRUCTION_LIFETIME_HOURS}"),
            )
            .into());
        }
        if !(1..=MAX_SIM_CHANGE_WINDOW_HOURS).contains(&limits.max_sim_change_window_hours) {
            return Err(invalid(
                "instructions.maxSimChangeWindowHours",
                format!("must be 1 to {MAX_SIM_CHANGE_WINDOW_HOURS}"),
            )
            .into());
        }
        Ok(())
    }

    /// The SIM guard's rules under this policy.
    pub fn sim_policy(&self) -> SimPolicy {
        SimPolicy::from(self)
    }

    fn validate_apps(&self) -> Result<(), PolicyError> {
        let apps = &self.apps;
        for (i, installer) in apps.allowed_installers.iter().enumerate() {
            check_package(&format!("apps.allowedInstallers[{i}]"), installer)?;
        }
        let mut seen = BTreeSet::new();
        for (i, rule) in apps.applications.iter().enumerate() {
            let at = |field: &str| format!("apps.applications[{i}].{field}");
            let id = match (&rule.package_name, &rule.bundle_id) {
                (Some(p), None) => {
                    check_package(&at("packageName"), p)?;
                    format!("android:{p}")
                }
                (None, Some(b)) => {
                    check_bundle_id(&at("bundleId"), b)?;
                    if !rule.signing_key_certs.is_empty()
                        || rule.minimum_version_code.is_some()
                        || rule.allowed_installers.is_some()
                    {
                        return Err(invalid(
                            format!("apps.applications[{i}]"),
                            "signingKeyCerts, minimumVersionCode and allowedInstallers apply to Android packageName rules only",
                        ));
                    }
                    format!("ios:{b}")
                }
                _ => {
                    return Err(invalid(
                        format!("apps.applications[{i}]"),
                        "name exactly one of packageName (Android) and bundleId (iOS)",
                    ))
                }
            };
            if !seen.insert(id) {
                return Err(invalid(
                    format!("apps.applications[{i}]"),
                    "the same app has two rules; merge them",
                ));
            }
            if let Some(installers) = &rule.allowed_installers {
                for (j, installer) in installers.iter().enumerate() {
                    check_package(&at(&format!("allowedInstallers[{j}]")), installer)?;
                }
            }
            let mut certs = BTreeSet::new();
            for (j, cert) in rule.signing_key_certs.iter().enumerate() {
                if !certs.insert(cert.signing_key_cert_fingerprint_sha256) {
                    return Err(invalid(
                        at(&format!(
                            "signingKeyCerts[{j}].signingKeyCertFingerprintSha256"
                        )),
                        "listed twice",
                    ));
                }
            }
            if rule.install_type == InstallType::Blocked
                && (!rule.signing_key_certs.is_empty() || rule.minimum_version_code.is_some())
            {
                return Err(invalid(
                    at("installType"),
                    "a BLOCKED app takes no signingKeyCerts or minimumVersionCode",
                ));
            }
        }
        Ok(())
    }

    fn validate_configuration(&self) -> Result<(), PolicyError> {
        let c = &self.configuration;
        if let Some(level) = c.minimum_api_level {
            if !(21..=100).contains(&level) {
                return Err(invalid(
                    "configuration.minimumApiLevel",
                    "must be between 21 and 100",
                ));
            }
        }
        if let Some(v) = &c.minimum_ios_version {
            let parts: Vec<&str> = v.split('.').collect();
            let ok = (1..=3).contains(&parts.len())
                && parts
                    .iter()
                    .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(invalid(
                    "configuration.minimumIosVersion",
                    "expected a version such as 17.6 or 18.3.1",
                ));
            }
        }
        if let Some(date) = &c.minimum_security_patch_level {
            if crate::time::Date::parse_ymd(date).is_none() {
                return Err(invalid(
                    "configuration.minimumSecurityPatchLevel",
                    "expected a date as YYYY-MM-DD",
                ));
            }
        }
        if let Some(days) = c.maximum_security_patch_age_days {
            if !(1..=3650).contains(&days) {
                return Err(invalid(
                    "configuration.maximumSecurityPatchAgeDays",
                    "must be between 1 and 3650",
                ));
            }
        }
        if let Some(p) = &c.password_requirements {
            if let Some(n) = p.maximum_failed_passwords_for_wipe {
                if !(4..=100).contains(&n) {
                    return Err(invalid(
                        "configuration.passwordRequirements.maximumFailedPasswordsForWipe",
                        "must be between 4 and 100 (fewer wipes phones by accident)",
                    ));
                }
            }
        }
        if let Some(ms) = c.maximum_time_to_lock {
            if !(1000..=86_400_000).contains(&ms) {
                return Err(invalid(
                    "configuration.maximumTimeToLock",
                    "must be between 1000 ms and 86400000 ms (one day)",
                ));
            }
        }
        if let Some(vpn) = &c.always_on_vpn_package {
            check_package(
                "configuration.alwaysOnVpnPackage.packageName",
                &vpn.package_name,
            )?;
        }
        if let Some(list) = &c.permitted_accessibility_services {
            for (i, p) in list.package_names.iter().enumerate() {
                check_package(
                    &format!("configuration.permittedAccessibilityServices.packageNames[{i}]"),
                    p,
                )?;
            }
        }
        Ok(())
    }

    fn validate_sim(&self) -> Result<(), PolicyError> {
        let s = &self.sim;
        if !(1..=1440).contains(&s.port_out_window_minutes) {
            return Err(invalid(
                "sim.portOutWindowMinutes",
                "must be between 1 and 1440",
            ));
        }
        if !(MIN_REREAD_INTERVAL_MINUTES..=MAX_REREAD_INTERVAL_MINUTES)
            .contains(&s.reread_interval_minutes)
        {
            return Err(invalid(
                "sim.rereadIntervalMinutes",
                format!(
                    "must be between {MIN_REREAD_INTERVAL_MINUTES} and {MAX_REREAD_INTERVAL_MINUTES}"
                ),
            ));
        }
        let mut slots = BTreeSet::new();
        for (i, sub) in s.expected_subscriptions.iter().enumerate() {
            if sub.slot > MAX_SLOT {
                return Err(invalid(
                    format!("sim.expectedSubscriptions[{i}].slot"),
                    format!("must be between 0 and {MAX_SLOT}"),
                ));
            }
            if !slots.insert(sub.slot) {
                return Err(invalid(
                    format!("sim.expectedSubscriptions[{i}].slot"),
                    "two expectations for the same slot",
                ));
            }
            if let Some(home) = &sub.home_network {
                if !(5..=6).contains(&home.len()) || !home.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(
                        format!("sim.expectedSubscriptions[{i}].homeNetwork"),
                        "expected MCC-MNC as 5 or 6 digits",
                    ));
                }
            }
            if let Some(pin) = &sub.pinned {
                if pin.iccid.is_none() && pin.imsi.is_none() && pin.msisdn.is_none() {
                    return Err(invalid(
                        format!("sim.expectedSubscriptions[{i}].pinned"),
                        "pins nothing: give iccid, imsi or msisdn, or drop the field",
                    ));
                }
            }
        }
        let mut actions = BTreeSet::new();
        for (i, a) in s.on_change.iter().enumerate() {
            if !actions.insert(*a) {
                return Err(invalid(format!("sim.onChange[{i}]"), "listed twice"));
            }
        }
        Ok(())
    }

    fn validate_inspection(&self) -> Result<(), PolicyError> {
        let r = &self.inspection;
        if !(1..=365).contains(&r.cadence_days) {
            return Err(invalid(
                "inspection.cadenceDays",
                "must be between 1 and 365",
            ));
        }
        if !(5..=1440).contains(&r.window_minutes) {
            return Err(invalid(
                "inspection.windowMinutes",
                "must be between 5 and 1440",
            ));
        }
        let h = r.allowed_local_hours;
        if h.from > 23 || !(1..=24).contains(&h.until) || (h.from == h.until % 24 && h.until != 24)
        {
            return Err(invalid(
                "inspection.allowedLocalHours",
                "from must be 0-23 and until 1-24, and they must differ",
            ));
        }
        if r.window_minutes > h.hours() * 60 {
            return Err(invalid(
                "inspection.windowMinutes",
                "the window is longer than allowedLocalHours",
            ));
        }
        if r.triggered_inspection_delay_minutes > 10_080 {
            return Err(invalid(
                "inspection.triggeredInspectionDelayMinutes",
                "must be at most 10080 (one week)",
            ));
        }
        if r.grace_period_hours > 720 {
            return Err(invalid(
                "inspection.gracePeriodHours",
                "must be at most 720 (30 days)",
            ));
        }
        Ok(())
    }

    fn validate_telemetry(&self) -> Result<(), PolicyError> {
        let t = &self.telemetry;
        if !(1..=MAX_NETWORK_WINDOW_DAYS).contains(&t.network_window_days) {
            return Err(invalid(
                "telemetry.networkWindowDays",
                format!("must be between 1 and {MAX_NETWORK_WINDOW_DAYS}"),
            ));
        }
        if !(2..=100).contains(&t.keyguard_failures) {
            return Err(invalid(
                "telemetry.keyguardFailures",
                "must be between 2 and 100",
            ));
        }
        if !(1..=1440).contains(&t.keyguard_window_minutes) {
            return Err(invalid(
                "telemetry.keyguardWindowMinutes",
                "must be between 1 and 1440",
            ));
        }
        for (i, w) in t.adb_maintenance_windows.iter().enumerate() {
            let at = |f: &str| format!("telemetry.adbMaintenanceWindows[{i}].{f}");
            let Some(start) = w.start() else {
                return Err(invalid(at("from"), "is not an RFC 3339 time"));
            };
            let Some(end) = w.end() else {
                return Err(invalid(at("until"), "is not an RFC 3339 time"));
            };
            if end <= start {
                return Err(invalid(at("until"), "must be after `from`"));
            }
        }
        Ok(())
    }

    fn validate_upload(&self) -> Result<(), PolicyError> {
        let Some(u) = &self.upload else {
            return Ok(());
        };
        let url = u.collector_url.as_str();
        let host = url.strip_prefix("https://").unwrap_or_default();
        if host.is_empty()
            || url.len() > 512
            || url.ends_with('/')
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "upload.collectorUrl",
                "must be an https:// URL of at most 512 characters without a trailing slash",
            ));
        }
        if u.certificate_sha256.is_empty() || u.certificate_sha256.len() > 4 {
            return Err(invalid(
                "upload.certificateSha256",
                "must list 1 to 4 certificate digests",
            ));
        }
        for (i, pin) in u.certificate_sha256.iter().enumerate() {
            if crate::identity::unhex32(pin).is_none() {
                return Err(invalid(
                    format!("upload.certificateSha256[{i}]"),
                    "must be 64 hex digits",
                ));
            }
        }
        if u.receipt_key_bytes().is_none() {
            return Err(invalid("upload.receiptKey", "must be 64 hex digits"));
        }
        if !UPLOAD_INTERVAL_MINUTES.contains(&u.interval_minutes) {
            return Err(invalid(
                "upload.intervalMinutes",
                "must be between 5 and 1440",
            ));
        }
        if !UPLOAD_BATCH_BYTES.contains(&u.max_batch_bytes) {
            return Err(invalid(
                "upload.maxBatchBytes",
                "must be between 16384 and 8388608",
            ));
        }
        if u.heartbeat_minutes < u.interval_minutes || u.heartbeat_minutes > 10080 {
            return Err(invalid(
                "upload.heartbeatMinutes",
                "must be at least intervalMinutes and at most 10080",
            ));
        }
        Ok(())
    }

    fn validate_device_integrity(&self) -> Result<(), PolicyError> {
        let d = &self.device_integrity;
        if d.max_attested_patch_age_days
            .is_some_and(|days| !(1..=MAX_ATTESTED_PATCH_AGE_DAYS).contains(&days))
        {
            return Err(invalid(
                "deviceIntegrity.maxAttestedPatchAgeDays",
                format!("must be between 1 and {MAX_ATTESTED_PATCH_AGE_DAYS}"),
            ));
        }
        if d.require_attestation_within_days
            .is_some_and(|days| !(1..=MAX_ATTESTATION_AGE_DAYS).contains(&days))
        {
            return Err(invalid(
                "deviceIntegrity.requireAttestationWithinDays",
                format!("must be between 1 and {MAX_ATTESTATION_AGE_DAYS}"),
            ));
        }
        if d.require_strong_box && !d.require_hardware_backed_key {
            return Err(invalid(
                "deviceIntegrity.requireStrongBox",
                "a StrongBox key is hardware-backed: set requireHardwareBackedKey too",
            ));
        }
        if !d.is_active()
            && self
                .policy_enforcement_rules
                .iter()
                .any(|r| r.setting_name == SettingName::DeviceIntegrity)
        {
            return Err(invalid(
                "policyEnforcementRules",
                "a deviceIntegrity ladder without any deviceIntegrity rule",
            ));
        }
        Ok(())
    }

    fn validate_escalation(&self) -> Result<(), PolicyError> {
        let mut seen = BTreeSet::new();
        for (i, rule) in self.policy_enforcement_rules.iter().enumerate() {
            let at = |f: &str| format!("policyEnforcementRules[{i}].{f}");
            if !seen.insert(rule.setting_name) {
                return Err(invalid(
                    at("settingName"),
                    "two rules for the same setting; merge them",
                ));
            }
            if let Some(block) = &rule.block_action {
                if block.block_after_days > 365 {
                    return Err(invalid(
                        at("blockAction.blockAfterDays"),
                        "must be at most 365",
                    ));
                }
            }
            if let Some(wipe) = &rule.wipe_action {
                let Some(block) = &rule.block_action else {
                    return Err(invalid(
                        at("wipeAction"),
                        "a wipe needs a blockAction before it",
                    ));
                };
                if wipe.wipe_after_days <= block.block_after_days || wipe.wipe_after_days > 365 {
                    return Err(invalid(
                        at("wipeAction.wipeAfterDays"),
                        "must be greater than blockAction.blockAfterDays and at most 365",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl From<&Policy> for SimPolicy {
    /// The guard's rules: the policy's port-out window, 2G forbidden unless the
    /// policy leaves 2G to the user's choice, and the expected subscriptions per slot
    /// (whether required, the pinned identity and the home network).
    fn from(policy: &Policy) -> Self {
        SimPolicy {
            port_out_window_ms: i64::from(policy.sim.port_out_window_minutes) * MINUTE_MS,
            forbid_2g: policy.configuration.device_radio_state.cellular_two_g_state
                == CellularTwoGState::CellularTwoGDisabled,
            expected: policy
                .sim
                .expected_subscriptions
                .iter()
                .map(|sub| {
                    let pins = crate::sim::SimPins {
                        identity: sub.pinned.unwrap_or_default(),
                        home_network: sub.home_network.clone(),
                    };
                    let expected = crate::sim::ExpectedSim {
                        required: sub.required,
                        pins,
                    };
                    (sub.slot, expected)
                })
                .collect(),
        }
    }
}

fn invalid(path: impl Into<String>, problem: impl Into<String>) -> PolicyError {
    PolicyError::InvalidPolicy {
        path: path.into(),
        problem: problem.into(),
    }
}

/// Android package names: dot-separated segments of letters, digits and `_`, each
/// starting with a letter, at least two segments.
fn check_package(path: &str, name: &str) -> Result<(), PolicyError> {
    let ok = name.len() <= 255
        && name.split('.').count() >= 2
        && name.split('.').all(|seg| {
            seg.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            path,
            "not an Android package name (letters, digits and _ in two or more dot-separated parts)",
        ))
    }
}

/// iOS bundle identifiers: letters, digits, `-` and `.`.
fn check_bundle_id(path: &str, id: &str) -> Result<(), PolicyError> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && id.contains('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            path,
            "not an iOS bundle identifier (letters, digits, - and .)",
        ))
    }
}
