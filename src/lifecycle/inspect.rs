//! `inspect`: everything known about containers, as pretty JSON, the same fields as the state
//! file (so the file format is documented by what a student can print), with the status to
//! believe in place of the written one, and why when they differ. An array, as `docker inspect`
//! prints, so that several containers read as one document.

use super::liveness::Observed;
use super::state::ContainerState;
use serde::Serialize;

#[derive(Serialize)]
struct Inspected<'a> {
    #[serde(flatten)]
    state: ContainerState,
    /// Why the status shown is not the one written, or what else is amiss.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

/// The JSON `inspect` prints for these containers.
pub fn to_json(containers: &[(ContainerState, Observed)]) -> String {
    let shown: Vec<Inspected> = containers
        .iter()
        .map(|(state, seen)| Inspected {
            state: ContainerState { status: seen.status, ..state.clone() },
            note: seen.note.as_deref(),
        })
        .collect();
    serde_json::to_string_pretty(&shown).expect("a state always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::state::tests::sample;
    use crate::lifecycle::state::Status;

    #[test]
    fn inspect_prints_the_state_with_the_status_to_believe() {
        let mut state = sample("web");
        state.status = Status::Running;
        let seen = Observed { status: Status::Dead, note: Some("its process 42 is gone".into()) };
        let text = to_json(&[(state.clone(), seen)]);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let first = &value[0];
        assert_eq!(first["id"], state.id.full());
        assert_eq!(first["name"], "web");
        assert_eq!(first["status"], "dead");
        assert_eq!(first["note"], "its process 42 is gone");
        assert_eq!(first["command"], serde_json::json!(["sleep", "100"]));
        assert!(first["created"].as_str().unwrap().ends_with('Z'));
        assert!(text.contains("\n  {\n    \""), "not pretty:\n{text}");
    }

    #[test]
    fn a_believed_state_has_no_note_and_reads_back_as_a_state() {
        let mut state = sample("db");
        state.status = Status::Stopped(3);
        let text = to_json(&[(state.clone(), Observed { status: state.status, note: None })]);
        let back: Vec<ContainerState> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, [state]);
        assert!(text.contains("\"stopped\": 3"), "{text}");
    }
}
