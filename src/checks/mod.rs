//! Checks: `FlowFacts` + `Profile` → per-check verdicts (spec §3).
//! (Owned by the audit work: issue 5.)

use serde::Serialize;

use crate::facts::FlowFacts;
use crate::profile::Profile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Skipped,
    Unknown,
    Fail,
}

/// The judged flow: facts + checks + overall verdict.
#[derive(Debug, Clone)]
pub struct JudgedFlow {
    pub facts: FlowFacts,
    pub verdict: Verdict,
}

/// Judge one flow against the profile.
pub fn judge(facts: FlowFacts, _profile: &Profile) -> JudgedFlow {
    JudgedFlow {
        facts,
        verdict: Verdict::Unknown,
    }
}
