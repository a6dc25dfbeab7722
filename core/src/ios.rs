//! iOS's radio values as the core's, the way `android` reads Android's: the iOS layer
//! hands CoreTelephony's strings over as it reads them.

use crate::sim::Rat;

/// A `CTRadioAccessTechnology*` value (`serviceCurrentRadioAccessTechnology`). Those
/// constants' values are their own names (`CTRadioAccessTechnologyLTE ==
/// "CTRadioAccessTechnologyLTE"`). EV-DO and eHRPD (3G CDMA2000 data) have no generation
/// the guard knows and are `Unknown`, as are names newer than this table.
pub fn rat(technology: &str) -> Rat {
    match technology.strip_prefix("CTRadioAccessTechnology") {
        Some("GPRS") => Rat::Gprs,
        Some("Edge") => Rat::Edge,
        Some("CDMA1x") => Rat::OneXRtt,
        Some("WCDMA") => Rat::Umts,
        Some("HSDPA" | "HSUPA") => Rat::Hspa,
        Some("LTE") => Rat::Lte,
        Some("NRNSA" | "NR") => Rat::Nr,
        _ => Rat::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_telephony_names_map_to_generations() {
        assert_eq!(rat("CTRadioAccessTechnologyEdge"), Rat::Edge);
        assert_eq!(rat("CTRadioAccessTechnologyCDMA1x"), Rat::OneXRtt);
        assert_eq!(rat("CTRadioAccessTechnologyHSUPA"), Rat::Hspa);
        assert_eq!(rat("CTRadioAccessTechnologyNRNSA"), Rat::Nr);
        assert_eq!(rat("CTRadioAccessTechnologyLTE"), Rat::Lte);
        assert_eq!(
            rat("CTRadioAccessTechnologyeHRPD"),
            Rat::Unknown,
            "no generation of its own"
        );
        assert_eq!(rat("LTE"), Rat::Unknown, "only the constants' values");
        assert_eq!(
            rat("CTRadioAccessTechnology6G"),
            Rat::Unknown,
            "newer than the table"
        );
    }
}
