//! Reading stored instruction actions and outcomes field by field, for the reason given
//! in `compliance::actions`' reader: the derived reader of an internally tagged enum
//! buffers each object whole and is compiled again for every enclosing type. The same
//! documents are accepted (unknown fields ignored); a field the tag needs but lacks is an
//! error naming both. Writing stays derived.

use serde::Deserialize;

use super::{ActionOutcome, InstructionAction};

/// `value`, or an error naming the field that `tag` needs.
fn need<T>(value: Option<T>, tag: &str, field: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("{tag} needs `{field}`"))
}

#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ActionTag {
    LockNow,
    WipeWorkData,
    WipeDevice,
    StartInspection,
    RotateKeys,
    ShowNotice,
    Attest,
}

/// An instruction action as stored: its `action` and whichever fields it has.
#[derive(Deserialize)]
pub(super) struct ActionFields {
    action: ActionTag,
    preserve_frp: Option<bool>,
    reason: Option<String>,
    title: Option<String>,
    body: Option<String>,
    challenge: Option<Vec<u8>>,
    certify: Option<Vec<u8>>,
}

impl TryFrom<ActionFields> for InstructionAction {
    type Error = String;

    fn try_from(f: ActionFields) -> Result<Self, String> {
        use ActionTag as T;
        Ok(match f.action {
            T::LockNow => InstructionAction::LockNow,
            T::WipeWorkData => InstructionAction::WipeWorkData {
                preserve_frp: need(f.preserve_frp, "WIPE_WORK_DATA", "preserve_frp")?,
            },
            T::WipeDevice => InstructionAction::WipeDevice {
                preserve_frp: need(f.preserve_frp, "WIPE_DEVICE", "preserve_frp")?,
            },
            T::StartInspection => InstructionAction::StartInspection {
                reason: need(f.reason, "START_INSPECTION", "reason")?,
            },
            T::RotateKeys => InstructionAction::RotateKeys,
            T::ShowNotice => InstructionAction::ShowNotice {
                title: need(f.title, "SHOW_NOTICE", "title")?,
                body: need(f.body, "SHOW_NOTICE", "body")?,
            },
            T::Attest => InstructionAction::Attest {
                challenge: need(f.challenge, "ATTEST", "challenge")?,
                certify: need(f.certify, "ATTEST", "certify")?,
            },
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutcomeTag {
    CarriedOut,
    HandedToMdm,
    NotPossible,
    Failed,
}

/// An action's outcome as stored.
#[derive(Deserialize)]
pub(super) struct OutcomeFields {
    outcome: OutcomeTag,
    reason: Option<String>,
}

impl TryFrom<OutcomeFields> for ActionOutcome {
    type Error = String;

    fn try_from(f: OutcomeFields) -> Result<Self, String> {
        Ok(match f.outcome {
            OutcomeTag::CarriedOut => ActionOutcome::CarriedOut,
            OutcomeTag::HandedToMdm => ActionOutcome::HandedToMdm,
            OutcomeTag::NotPossible => ActionOutcome::NotPossible {
                reason: need(f.reason, "not_possible", "reason")?,
            },
            OutcomeTag::Failed => ActionOutcome::Failed {
                reason: need(f.reason, "failed", "reason")?,
            },
        })
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
        let err =
            serde_json::from_str::<InstructionAction>(r#"{"action":"SHOW_NOTICE","title":"t"}"#)
                .unwrap_err();
        assert!(
            err.to_string().contains("SHOW_NOTICE needs `body`"),
            "{err}"
        );
        let err = serde_json::from_str::<ActionOutcome>(r#"{"outcome":"failed"}"#).unwrap_err();
        assert!(err.to_string().contains("failed needs `reason`"), "{err}");
        let err = serde_json::from_str::<ActionOutcome>(r#"{"outcome":"exploded"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }
}
