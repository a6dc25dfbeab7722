//! Reading stored instruction actions and outcomes field by field (see `crate::tagged`).

use super::{ActionOutcome, InstructionAction};
use crate::tagged::flat_reader;

flat_reader! {
    mod action for InstructionAction, tag "action", case "SCREAMING_SNAKE_CASE";
    fields {
        preserve_frp: bool,
        reason: String,
        title: String,
        body: String,
        challenge: Vec<u8>,
        certify: Vec<u8>,
    }
    variants {
        LockNow,
        WipeWorkData { preserve_frp },
        WipeDevice { preserve_frp },
        StartInspection { reason },
        RotateKeys,
        ShowNotice { title, body },
        Attest { challenge, certify },
    }
}

flat_reader! {
    mod outcome for ActionOutcome, tag "outcome", case "snake_case";
    fields { reason: String }
    variants {
        CarriedOut,
        HandedToMdm,
        NotPossible { reason },
        Failed { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_and_outcome_reads_back_as_written() {
        let actions = [
            InstructionAction::LockNow,
            InstructionAction::WipeWorkData { preserve_frp: true },
            InstructionAction::WipeDevice {
                preserve_frp: false,
            },
            InstructionAction::StartInspection {
                reason: "scheduled check".into(),
            },
            InstructionAction::RotateKeys,
            InstructionAction::ShowNotice {
                title: "Update".into(),
                body: "Restart today".into(),
            },
            InstructionAction::Attest {
                challenge: vec![1, 2, 255],
                certify: vec![0, 7],
            },
        ];
        for action in actions {
            let json = serde_json::to_string(&action).unwrap();
            let read: InstructionAction = serde_json::from_str(&json).unwrap();
            assert_eq!(read, action, "{json}");
        }
        let outcomes = [
            ActionOutcome::CarriedOut,
            ActionOutcome::HandedToMdm,
            ActionOutcome::NotPossible {
                reason: "no device owner".into(),
            },
            ActionOutcome::Failed {
                reason: "keystore refused".into(),
            },
        ];
        for outcome in outcomes {
            let json = serde_json::to_string(&outcome).unwrap();
            let read: ActionOutcome = serde_json::from_str(&json).unwrap();
            assert_eq!(read, outcome, "{json}");
        }
    }

    #[test]
    fn a_field_the_tag_needs_is_named_when_missing() {
        for (json, expected) in [
            (
                r#"{"action":"SHOW_NOTICE","title":"t"}"#,
                "ShowNotice needs `body`",
            ),
            (r#"{"outcome":"failed"}"#, "Failed needs `reason`"),
            (r#"{"outcome":"exploded"}"#, "unknown variant"),
        ] {
            let err = match json.contains("outcome") {
                true => serde_json::from_str::<ActionOutcome>(json).map(|_| ()),
                false => serde_json::from_str::<InstructionAction>(json).map(|_| ()),
            }
            .unwrap_err();
            assert!(err.to_string().contains(expected), "{json}: {err}");
        }
    }
}
