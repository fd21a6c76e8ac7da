//! Program analytics: the clinic's outcomes over many patients, from one
//! stored summary per patient (`PatientSummary`, derived by the service from
//! the patient's records with the definitions that produced each figure),
//! grouped by protocol and filtered by protocol, substance, site and the
//! period the course started in. Proportions carry Wilson score intervals;
//! time to relapse is a Kaplan–Meier curve from `clinic-survival` (the
//! conventions of survival.md); the published trial figures to compare with
//! are data (`data/analytics/published.toml`, parsed by `parse_published`).
//!
//! An uncontrolled clinic cohort has no control arm: it is set beside the
//! trial's ketamine arm, never given a hazard ratio against the trial, and
//! `reading` words the comparison without claiming an effect.
//!
//! `PatientSummary` derives `Serialize` on purpose: it is kept whole as JSON
//! with the definitions that produced it, like the screening records.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use clinic_survival::cohort::{CohortBuilder, Days};
use clinic_survival::km::{kaplan_meier, KaplanMeier};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// z for a two-sided 95 % interval (survival.md).
pub const Z_95: f64 = 1.959963984540054;

/// How the patient's time to relapse stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RelapseSummary {
    /// Settled from confirmed events: days from the index date, relapsed or censored.
    Settled { days: u32, relapsed: bool },
    /// Proposed relapse or dropout events await a clinician's decision.
    Pending { proposals: u32 },
    /// Cannot be evaluated (a setting the clinic has not made, no protocol…).
    Unavailable { reason: String },
}

/// Retention through the course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionSummary {
    Retained,
    NotRetained,
    /// The course has not ended and the patient is still followed.
    NotOver,
}

/// Abstinence from one substance over the protocol's first outcome window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowVerdict {
    Abstinent,
    NotAbstinent,
    /// Unknown days or undetermined tests leave it open.
    Undetermined,
}

/// One substance over the protocol's first outcome window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubstanceWindow {
    pub substance: String,
    pub verdict: WindowVerdict,
    pub biologically_confirmed: bool,
    pub abstinent_days: u32,
    pub days_assessed: u32,
    /// Alcohol only: heavy drinking days and the days assessed for them.
    pub heavy_days: Option<u32>,
}

/// The protocol's first outcome window, once it has ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSummary {
    pub name: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// The window's last day has passed.
    pub over: bool,
    pub substances: Vec<SubstanceWindow>,
}

/// Everything analytics needs about one patient's course, derived from the
/// records with the definition of each figure (`definitions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientSummary {
    pub patient_id: Uuid,
    pub plan_id: Uuid,
    pub protocol_id: String,
    /// The patient's substances the protocol treats.
    pub substances: Vec<String>,
    /// Where the infusions were given (the first session's site), if any.
    pub site_id: Option<Uuid>,
    pub start_date: NaiveDate,
    pub infusions_given: u32,
    pub adverse_events: u32,
    /// Adverse events recorded as severe or serious.
    pub severe_adverse_events: u32,
    pub retention: RetentionSummary,
    pub sessions_expected: u32,
    pub sessions_attended: u32,
    pub window: Option<WindowSummary>,
    pub relapse: RelapseSummary,
    pub misuse_confirmed: u32,
    /// The definition behind each figure, by figure name, in words.
    pub definitions: BTreeMap<String, String>,
}

/// Which patients a figure covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub protocol: Option<String>,
    pub substance: Option<String>,
    pub site: Option<Uuid>,
    /// The course started on or after this day.
    pub from: Option<NaiveDate>,
    /// The course started on or before this day.
    pub to: Option<NaiveDate>,
}

impl Filters {
    pub fn admits(&self, s: &PatientSummary) -> bool {
        self.protocol.as_ref().is_none_or(|p| *p == s.protocol_id)
            && self.substance.as_ref().is_none_or(|x| s.substances.iter().any(|y| y == x))
            && self.site.is_none_or(|site| s.site_id == Some(site))
            && self.from.is_none_or(|d| s.start_date >= d)
            && self.to.is_none_or(|d| s.start_date <= d)
    }
}

/// k of n with its Wilson score 95 % interval (Wilson 1927, J Am Stat Assoc
/// 22:209–212), in percent. `None` estimates when n is 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proportion {
    pub k: u32,
    pub n: u32,
}

impl Proportion {
    pub fn new(k: u32, n: u32) -> Proportion {
        Proportion { k: k.min(n), n }
    }

    pub fn percent(self) -> Option<f64> {
        (self.n > 0).then(|| 100.0 * f64::from(self.k) / f64::from(self.n))
    }

    /// (lower, upper) in percent.
    pub fn interval(self) -> Option<(f64, f64)> {
        if self.n == 0 {
            return None;
        }
        let n = f64::from(self.n);
        let p = f64::from(self.k) / n;
        let z2 = Z_95 * Z_95;
        let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
        let half = Z_95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
        // Exact at the edges (the formula's rounding could leave 1e-17 outside).
        let lower = if self.k == 0 { 0.0 } else { (centre - half).max(0.0) };
        let upper = if self.k == self.n { 1.0 } else { (centre + half).min(1.0) };
        Some((100.0 * lower, 100.0 * upper))
    }

    /// "48.2 % (13 of 27; 95 % CI 30.7–66.0 %)", or "no patient yet".
    pub fn words(self) -> String {
        match (self.percent(), self.interval()) {
            (Some(p), Some((lo, hi))) => format!("{p:.1} % ({} of {}; 95 % CI {lo:.1}–{hi:.1} %)", self.k, self.n),
            _ => "no patient yet".into(),
        }
    }
}

/// A mean of per-patient percentages with a normal-approximation 95 %
/// interval (mean ± z·sd/√n, bounded to 0–100, the range of a percentage;
/// none for fewer than two patients).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mean {
    pub n: u32,
    pub mean: Option<f64>,
    pub interval: Option<(f64, f64)>,
}

impl Mean {
    /// "95.7 % (mean of 5 patients; 95 % CI 90.1–100.0 %)", or "no patient yet".
    pub fn words(self) -> String {
        match (self.mean, self.interval) {
            (Some(m), Some((lo, hi))) => format!("{m:.1} % (mean of {} patients; 95 % CI {lo:.1}–{hi:.1} %)", self.n),
            (Some(m), None) => format!("{m:.1} % (one patient)"),
            _ => "no patient yet".into(),
        }
    }
}

pub fn mean_of(values: &[f64]) -> Mean {
    let n = u32::try_from(values.len()).unwrap_or(u32::MAX);
    if values.is_empty() {
        return Mean { n, mean: None, interval: None };
    }
    let nf = f64::from(n);
    let mean = values.iter().sum::<f64>() / nf;
    let interval = (n >= 2).then(|| {
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (nf - 1.0);
        let half = Z_95 * (var / nf).sqrt();
        ((mean - half).max(0.0), (mean + half).min(100.0))
    });
    Mean { n, mean: Some(mean), interval }
}

/// One protocol's (or the whole program's) outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolOutcomes {
    /// `None` for all protocols together.
    pub protocol_id: Option<String>,
    pub patients: u32,
    /// Retained of those whose course is over.
    pub retention: Proportion,
    /// Counseling sessions attended of those expected, pooled.
    pub attendance: Proportion,
    /// Name of the protocol's first outcome window (when every patient's is the same).
    pub window_name: Option<String>,
    /// Patients abstinent from every treated substance over the first window,
    /// of those whose window is over; undetermined counts as not abstinent.
    pub window_abstinence: Proportion,
    /// Of the window denominators, how many were undetermined.
    pub window_undetermined: u32,
    /// Mean per-patient percent days abstinent over the first window.
    pub pda: Mean,
    /// Heavy drinking days of days assessed, pooled over alcohol patients.
    pub heavy_days: Proportion,
    /// Settled times to relapse (days, relapsed), for the Kaplan–Meier curve.
    pub times: Vec<(u32, bool)>,
    /// Patients left out of the curve: decisions pending, or unavailable with the reasons.
    pub relapse_pending: u32,
    pub relapse_unavailable: BTreeMap<String, u32>,
    pub infusions: u32,
    pub adverse_events: u32,
    pub severe_adverse_events: u32,
    pub misuse_patients: u32,
}

impl ProtocolOutcomes {
    /// Adverse events per 100 infusions.
    pub fn adverse_per_100_infusions(&self) -> Option<f64> {
        (self.infusions > 0).then(|| 100.0 * f64::from(self.adverse_events) / f64::from(self.infusions))
    }

    /// Patients with confirmed ketamine misuse per 100 patients.
    pub fn misuse_per_100_patients(&self) -> Option<f64> {
        (self.patients > 0).then(|| 100.0 * f64::from(self.misuse_patients) / f64::from(self.patients))
    }

    /// The Kaplan–Meier curve of the settled times (none without any).
    pub fn kaplan_meier(&self) -> Option<KaplanMeier> {
        if self.times.is_empty() {
            return None;
        }
        let mut b = CohortBuilder::new();
        let arm = b.arm_id(self.protocol_id.as_deref().unwrap_or("all"));
        for &(days, relapsed) in &self.times {
            b.add(arm, Days::from_whole_days(days), relapsed);
        }
        let cohort = b.finish();
        cohort.arms().first().map(kaplan_meier)
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The outcomes of the summaries the filters admit, for one protocol or all.
pub fn outcomes(summaries: &[PatientSummary], filters: &Filters, protocol: Option<&str>) -> ProtocolOutcomes {
    let chosen: Vec<&PatientSummary> = summaries.iter().filter(|s| filters.admits(s) && protocol.is_none_or(|p| p == s.protocol_id)).collect();
    let over: Vec<&&PatientSummary> = chosen.iter().filter(|s| s.retention != RetentionSummary::NotOver).collect();
    let retained = over.iter().filter(|s| s.retention == RetentionSummary::Retained).count();
    let (mut attended, mut expected) = (0u32, 0u32);
    for s in &chosen {
        attended = attended.saturating_add(s.sessions_attended);
        expected = expected.saturating_add(s.sessions_expected);
    }
    let windows: Vec<&WindowSummary> = chosen.iter().filter_map(|s| s.window.as_ref()).filter(|w| w.over && !w.substances.is_empty()).collect();
    let mut names: Vec<&str> = windows.iter().map(|w| w.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let abstinent = windows.iter().filter(|w| w.substances.iter().all(|x| x.verdict == WindowVerdict::Abstinent)).count();
    let undetermined = windows
        .iter()
        .filter(|w| !w.substances.iter().any(|x| x.verdict == WindowVerdict::NotAbstinent) && w.substances.iter().any(|x| x.verdict == WindowVerdict::Undetermined))
        .count();
    let pdas: Vec<f64> = windows
        .iter()
        .filter_map(|w| {
            let (a, d) = w.substances.iter().fold((0u32, 0u32), |(a, d), x| (a.saturating_add(x.abstinent_days), d.saturating_add(x.days_assessed)));
            (d > 0).then(|| 100.0 * f64::from(a) / f64::from(d))
        })
        .collect();
    let (mut heavy, mut assessed) = (0u32, 0u32);
    for w in &windows {
        for x in &w.substances {
            if let Some(h) = x.heavy_days {
                heavy = heavy.saturating_add(h);
                assessed = assessed.saturating_add(x.days_assessed);
            }
        }
    }
    let mut times = Vec::new();
    let (mut pending, mut unavailable) = (0u32, BTreeMap::new());
    for s in &chosen {
        match &s.relapse {
            RelapseSummary::Settled { days, relapsed } => times.push((*days, *relapsed)),
            RelapseSummary::Pending { .. } => pending += 1,
            RelapseSummary::Unavailable { reason } => *unavailable.entry(reason.clone()).or_insert(0u32) += 1,
        }
    }
    let sum = |f: fn(&PatientSummary) -> u32| chosen.iter().fold(0u32, |acc, s| acc.saturating_add(f(s)));
    ProtocolOutcomes {
        protocol_id: protocol.map(str::to_string),
        patients: count(chosen.len()),
        retention: Proportion::new(count(retained), count(over.len())),
        attendance: Proportion::new(attended, expected),
        window_name: (names.len() == 1).then(|| names[0].to_string()),
        window_abstinence: Proportion::new(count(abstinent), count(windows.len())),
        window_undetermined: count(undetermined),
        pda: mean_of(&pdas),
        heavy_days: Proportion::new(heavy, assessed),
        times,
        relapse_pending: pending,
        relapse_unavailable: unavailable,
        infusions: sum(|s| s.infusions_given),
        adverse_events: sum(|s| s.adverse_events),
        severe_adverse_events: sum(|s| s.severe_adverse_events),
        misuse_patients: count(chosen.iter().filter(|s| s.misuse_confirmed > 0).count()),
    }
}

/// Which of the clinic's figures a published result is set beside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishedMeasure {
    /// Abstinent over the protocol's first outcome window (a proportion of patients).
    WindowAbstinence,
    /// Percent days abstinent over the first window (a mean).
    PercentDaysAbstinent,
}

/// One published ketamine-arm result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    pub protocol: String,
    pub measure: PublishedMeasure,
    /// What the trial measured, in words.
    pub label: String,
    /// The ketamine arm's figure, in percent, when the reference gives one
    /// that can be compared; `None` shows the label only.
    pub percent: Option<f64>,
    /// Patients in the ketamine arm.
    pub n: Option<u32>,
    /// The original source and the reference's status for the figure.
    pub source: String,
    /// Why no comparison is drawn, when `percent` is absent.
    pub caveat: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishedFile {
    result: Vec<Published>,
}

/// Parses `data/analytics/published.toml`, refusing a figure outside 0–100
/// or an entry with neither a figure nor a caveat.
pub fn parse_published(text: &str) -> Result<Vec<Published>, String> {
    let file: PublishedFile = toml::from_str(text).map_err(|e| e.to_string())?;
    for (i, r) in file.result.iter().enumerate() {
        if let Some(p) = r.percent {
            if !(0.0..=100.0).contains(&p) {
                return Err(format!("result {} ({}): percent must be between 0 and 100, got {p}", i + 1, r.protocol));
            }
        }
        if r.percent.is_none() && r.caveat.is_none() {
            return Err(format!("result {} ({}): give a percent or a caveat saying why none is compared", i + 1, r.protocol));
        }
    }
    Ok(file.result)
}

const UNCONTROLLED: &str = "This is an uncontrolled clinic cohort with no comparison arm: it cannot show that ketamine caused any difference, and the clinic's patients, follow-up and measurement differ from the trial's.";

/// The comparison in plain words, without overclaiming: where the trial's
/// ketamine-arm figure lies relative to the clinic's 95 % interval.
pub fn reading(clinic: &ComparedFigure, published: &Published) -> String {
    let Some(trial) = published.percent else {
        return format!("No comparison is drawn: {}", published.caveat.as_deref().unwrap_or("the reference gives no comparable figure"));
    };
    let n_trial = published.n.map_or_else(String::new, |n| format!(", n = {n}"));
    let Some((estimate, (lo, hi), n)) = clinic.estimate() else {
        return "No patient on this protocol has reached the end of the window yet, so there is nothing to compare.".into();
    };
    let position = if trial < lo {
        format!("higher than the trial's ketamine arm ({trial:.1} %{n_trial}): the whole 95 % interval lies above it")
    } else if trial > hi {
        format!("lower than the trial's ketamine arm ({trial:.1} %{n_trial}): the whole 95 % interval lies below it")
    } else {
        format!("consistent with the trial's ketamine arm ({trial:.1} %{n_trial}): the trial's figure lies inside the clinic's 95 % interval")
    };
    format!("The clinic's {estimate:.1} % (95 % CI {lo:.1}–{hi:.1} %, {n} patients) is {position}. {UNCONTROLLED}")
}

/// The clinic's figure set beside a published one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ComparedFigure {
    Proportion(Proportion),
    Mean(Mean),
}

impl ComparedFigure {
    /// (estimate, interval, n) in percent, when there is an interval.
    pub fn estimate(&self) -> Option<(f64, (f64, f64), u32)> {
        match self {
            ComparedFigure::Proportion(p) => Some((p.percent()?, p.interval()?, p.n)),
            ComparedFigure::Mean(m) => Some((m.mean?, m.interval?, m.n)),
        }
    }
}

/// The clinic's figure for a published measure.
pub fn figure_for(outcomes: &ProtocolOutcomes, measure: PublishedMeasure) -> ComparedFigure {
    match measure {
        PublishedMeasure::WindowAbstinence => ComparedFigure::Proportion(outcomes.window_abstinence),
        PublishedMeasure::PercentDaysAbstinent => ComparedFigure::Mean(outcomes.pda),
    }
}

/// One inquiry's way through the front door, for the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunnelFacts {
    pub inquiry_on: NaiveDate,
    /// The first screening questionnaire or medical screening of the patient it became.
    pub screened_on: Option<NaiveDate>,
    /// The first infusion given.
    pub treated_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Funnel {
    pub inquiries: u32,
    pub screened: u32,
    pub treated: u32,
    /// Median days inquiry → screening, over those screened.
    pub median_days_to_screening: Option<f64>,
    /// Median days screening → first infusion, over those treated.
    pub median_days_to_treatment: Option<f64>,
}

fn median(mut v: Vec<i64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let mid = v.len() / 2;
    let as_f = |x: i64| f64::from(i32::try_from(x).unwrap_or(i32::MAX));
    Some(if v.len() % 2 == 1 { as_f(v[mid]) } else { (as_f(v[mid - 1]) + as_f(v[mid])) / 2.0 })
}

/// The inquiry → screening → treatment funnel of inquiries received in
/// `[from, to]` (either open); a patient counts as treated only once screened.
pub fn funnel(facts: &[FunnelFacts], from: Option<NaiveDate>, to: Option<NaiveDate>) -> Funnel {
    let chosen: Vec<&FunnelFacts> = facts.iter().filter(|f| from.is_none_or(|d| f.inquiry_on >= d) && to.is_none_or(|d| f.inquiry_on <= d)).collect();
    let screened: Vec<&&FunnelFacts> = chosen.iter().filter(|f| f.screened_on.is_some()).collect();
    let treated: Vec<&&FunnelFacts> = screened.iter().copied().filter(|f| f.treated_on.is_some()).collect();
    Funnel {
        inquiries: count(chosen.len()),
        screened: count(screened.len()),
        treated: count(treated.len()),
        median_days_to_screening: median(screened.iter().filter_map(|f| Some((f.screened_on? - f.inquiry_on).num_days().max(0))).collect()),
        median_days_to_treatment: median(treated.iter().filter_map(|f| Some((f.treated_on? - f.screened_on?).num_days().max(0))).collect()),
    }
}

#[cfg(test)]
mod tests;
