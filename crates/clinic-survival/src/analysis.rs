//! The whole report of `ketaclinic stats survival`: which arms are compared
//! and how (survival.md, "Arms and degenerate cases").

use crate::cohort::{ArmTable, Cohort};
use crate::cox::{cox, CoxModel};
use crate::km::{kaplan_meier, KaplanMeier};
use crate::logrank::{logrank, LogRank};

/// The arm named here when there is one is the default treatment arm.
pub const DEFAULT_TREATMENT_ARM: &str = "ketamine";

/// The arms the caller picked for the Cox model, if any.
#[derive(Debug, Clone, Copy)]
pub struct ArmChoice<'a> {
    pub treatment: Option<&'a str>,
    pub reference: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// One curve per arm, in the cohort's (sorted) arm order.
    pub km: Vec<(String, KaplanMeier)>,
    /// `None` with one arm.
    pub logrank: Option<LogRank>,
    /// `None` with one arm, or with more than two arms unless both the
    /// treatment and the reference arm were picked.
    pub cox: Option<CoxReport>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CoxReport {
    pub treatment: String,
    pub reference: String,
    pub model: CoxModel,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArmChoiceError {
    #[error("{flag}: the file has no arm named {name:?}; its arms are: {known}")]
    UnknownArm {
        flag: &'static str,
        name: String,
        known: String,
    },
    #[error("--treatment and --reference: both name the arm {name:?}; pick two different arms")]
    SameArm { name: String },
}

pub fn analyse(cohort: &Cohort, choice: ArmChoice<'_>) -> Result<Analysis, ArmChoiceError> {
    let arms = cohort.arms();
    let treatment = choice
        .treatment
        .map(|name| find_arm(cohort, "--treatment", name))
        .transpose()?;
    let reference = choice
        .reference
        .map(|name| find_arm(cohort, "--reference", name))
        .transpose()?;
    if let (Some(t), Some(r)) = (treatment, reference) {
        if t.name == r.name {
            return Err(ArmChoiceError::SameArm {
                name: t.name.clone(),
            });
        }
    }
    let km = arms
        .iter()
        .map(|arm| (arm.name.clone(), kaplan_meier(arm)))
        .collect();
    let all: Vec<&ArmTable> = arms.iter().collect();
    let logrank = logrank(&all);
    let pair = match (arms, treatment, reference) {
        (_, Some(t), Some(r)) => Some((t, r)),
        ([first, second], t, r) => {
            let other = |arm: &ArmTable| {
                if arm.name == first.name {
                    second
                } else {
                    first
                }
            };
            match (t, r) {
                (Some(t), None) => Some((t, other(t))),
                (None, Some(r)) => Some((other(r), r)),
                _ => {
                    let t = if first.name == DEFAULT_TREATMENT_ARM {
                        first
                    } else {
                        second
                    };
                    Some((t, other(t)))
                }
            }
        }
        _ => None,
    };
    let cox = pair.map(|(t, r)| CoxReport {
        treatment: t.name.clone(),
        reference: r.name.clone(),
        model: cox(r, t),
    });
    Ok(Analysis { km, logrank, cox })
}

fn find_arm<'c>(
    cohort: &'c Cohort,
    flag: &'static str,
    name: &str,
) -> Result<&'c ArmTable, ArmChoiceError> {
    cohort.arm(name).ok_or_else(|| ArmChoiceError::UnknownArm {
        flag,
        name: name.to_string(),
        known: cohort
            .arms()
            .iter()
            .map(|arm| arm.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}
