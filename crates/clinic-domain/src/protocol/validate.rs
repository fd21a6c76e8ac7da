//! Refuses a malformed or self-contradicting protocol file, naming the file,
//! the place (`infusions.phases`, `therapy.days[3]`) and the problem, and
//! reporting every problem at once.

use std::collections::BTreeSet;

use crate::patient::Substance;
use crate::protocol::decimal::Decimal;
use crate::protocol::definition::{AssessmentAnchor, Definition, IndexDate, Moud, UNSETTABLE};
use crate::protocol::Protocol;

/// One thing wrong with a protocol file: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: String,
    pub message: String,
}

/// A refused protocol file with every problem found in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}", .problems.iter().map(|p| format!("{}: {}", p.at, p.message)).collect::<Vec<_>>().join("; "))]
pub struct InvalidProtocol {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl InvalidProtocol {
    /// A TOML syntax or shape error (unknown key, unknown kind, wrong type), on one line with its line number.
    pub fn from_toml(file_name: &str, text: &str, err: &toml::de::Error) -> InvalidProtocol {
        let at = match err.span() {
            Some(span) => format!("line {}", text.get(..span.start).unwrap_or("").matches('\n').count() + 1),
            None => "file".to_string(),
        };
        let message = err.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        InvalidProtocol {
            file: file_name.to_string(),
            problems: vec![Problem { at, message }],
        }
    }
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, at: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            at: at.into(),
            message: message.into(),
        });
    }
}

/// Checks a definition against itself, the course and the known instrument ids.
pub fn validate(file_name: &str, definition: Definition, instrument_ids: &BTreeSet<String>) -> Result<Protocol, InvalidProtocol> {
    let mut problems = Problems::default();
    check_header(file_name, &definition, &mut problems);
    check_inpatient(&definition, &mut problems);
    check_infusions(&definition, &mut problems);
    check_therapy(&definition, &mut problems);
    check_integration(&definition, &mut problems);
    check_assessments(&definition, instrument_ids, &mut problems);
    check_outcomes(&definition, &mut problems);
    check_unset(&definition, &mut problems);
    if problems.0.is_empty() {
        Ok(Protocol { definition })
    } else {
        Err(InvalidProtocol {
            file: file_name.to_string(),
            problems: problems.0,
        })
    }
}

fn is_id(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn check_text(at: &str, value: &str, problems: &mut Problems) {
    if value.trim().is_empty() {
        problems.add(at, "must not be empty");
    }
}

/// A day must fall inside the course: 0 to `course_days - 1`.
fn check_day(at: &str, day: i64, def: &Definition, problems: &mut Problems) {
    if day < 0 || day >= def.course_days {
        problems.add(at, format!("day {day} is outside the course (days 0-{})", def.course_days - 1));
    }
}

fn check_positive(at: &str, value: i64, problems: &mut Problems) {
    if value <= 0 {
        problems.add(at, format!("{value} must be more than 0"));
    }
}

fn check_header(file_name: &str, def: &Definition, problems: &mut Problems) {
    if !is_id(&def.id) {
        problems.add("id", format!("{:?} must be lower-case letters, digits and hyphens", def.id));
    }
    let stem = file_name.rsplit('/').next().unwrap_or(file_name).trim_end_matches(".toml");
    if stem != def.id {
        problems.add("id", format!("{:?} must match the file name ({stem}.toml)", def.id));
    }
    if def.version == 0 {
        problems.add("version", "must be 1 or more");
    }
    check_text("title", &def.title, problems);
    check_text("citation", &def.citation, problems);
    check_text("reference", &def.reference, problems);
    check_text("infusions.source", &def.infusions.source, problems);
    check_text("outcomes.source", &def.outcomes.source, problems);
    if def.substances.is_empty() {
        problems.add("substances", format!("list at least one of: {}", Substance::allowed_list()));
    }
    let mut seen = BTreeSet::new();
    for name in &def.substances {
        match Substance::parse(name) {
            Ok(substance) => {
                if !seen.insert(substance) {
                    problems.add("substances", format!("{name} is listed twice"));
                }
            }
            Err(err) => problems.add("substances", format!("{name:?}: {}", err.message)),
        }
    }
    if seen.contains(&Substance::Opioids) && def.moud != Some(Moud::Continue) {
        problems.add("moud", "a protocol for opioids must keep MOUD going: set moud = \"continue\" (clinical.md §11.4)");
    }
    check_positive("course_days", def.course_days, problems);
}

fn check_inpatient(def: &Definition, problems: &mut Problems) {
    let Some(inpatient) = &def.inpatient else { return };
    check_day("inpatient.first_day", inpatient.first_day, def, problems);
    check_day("inpatient.last_day", inpatient.last_day, def, problems);
    if inpatient.last_day < inpatient.first_day {
        problems.add("inpatient.last_day", format!("day {} comes before first_day {}", inpatient.last_day, inpatient.first_day));
    }
    check_text("inpatient.source", &inpatient.source, problems);
}

fn check_infusions(def: &Definition, problems: &mut Problems) {
    let infusions = &def.infusions;
    check_positive("infusions.count", infusions.count, problems);
    if !infusions.dose_mg_per_kg.is_positive() {
        problems.add("infusions.dose_mg_per_kg", format!("{} must be more than 0", infusions.dose_mg_per_kg));
    }
    check_positive("infusions.minutes", infusions.minutes, problems);
    if infusions.phases.is_empty() {
        problems.add("infusions.phases", "list at least one phase (one phase for a plain infusion)");
    }
    let mut dose_sum = Some(Decimal::ZERO);
    let mut minutes_sum = Some(0_i64);
    for (idx, phase) in infusions.phases.iter().enumerate() {
        let at = format!("infusions.phases[{}]", idx + 1);
        if !phase.dose_mg_per_kg.is_positive() {
            problems.add(format!("{at}.dose_mg_per_kg"), format!("{} must be more than 0", phase.dose_mg_per_kg));
        }
        check_positive(&format!("{at}.minutes"), phase.minutes, problems);
        dose_sum = dose_sum.and_then(|sum| sum.checked_add(phase.dose_mg_per_kg));
        minutes_sum = minutes_sum.and_then(|sum| sum.checked_add(phase.minutes));
    }
    if !infusions.phases.is_empty() {
        match dose_sum {
            Some(sum) if sum == infusions.dose_mg_per_kg => {}
            Some(sum) => problems.add(
                "infusions.phases",
                format!("phase doses add up to {sum} mg/kg, not the total dose_mg_per_kg {}", infusions.dose_mg_per_kg),
            ),
            None => problems.add("infusions.phases", "phase doses are too large to add up"),
        }
        match minutes_sum {
            Some(sum) if sum == infusions.minutes => {}
            Some(sum) => problems.add("infusions.phases", format!("phase minutes add up to {sum}, not the total minutes {}", infusions.minutes)),
            None => problems.add("infusions.phases", "phase minutes are too large to add up"),
        }
    }
    if let Some(max_mg) = infusions.max_mg {
        if !max_mg.is_positive() {
            problems.add("infusions.max_mg", format!("{max_mg} must be more than 0"));
        }
    }
    if let Some(max_dose) = infusions.max_dose_mg_per_kg {
        if infusions.dose_mg_per_kg > max_dose {
            problems.add(
                "infusions.dose_mg_per_kg",
                format!("{} mg/kg is above the protocol's own max_dose_mg_per_kg {max_dose}", infusions.dose_mg_per_kg),
            );
        }
    }
    let n_scheduled = i64::try_from(infusions.schedule.len()).unwrap_or(i64::MAX);
    if n_scheduled != infusions.count {
        problems.add("infusions.schedule", format!("lists {n_scheduled} infusions but count is {}", infusions.count));
    }
    for (idx, planned) in infusions.schedule.iter().enumerate() {
        let at = format!("infusions.schedule[{}]", idx + 1);
        check_day(&format!("{at}.day"), planned.day, def, problems);
        if let Some(earliest) = planned.earliest_day {
            check_day(&format!("{at}.earliest_day"), earliest, def, problems);
            if planned.day < earliest {
                problems.add(format!("{at}.day"), format!("day {} is before earliest_day {earliest}", planned.day));
            }
        }
        if let Some(latest) = planned.latest_day {
            check_day(&format!("{at}.latest_day"), latest, def, problems);
            if planned.day > latest {
                problems.add(format!("{at}.day"), format!("day {} is after latest_day {latest}", planned.day));
            }
        }
    }
    if let (Some(min), Some(max)) = (infusions.min_spacing_days, infusions.max_spacing_days) {
        if max < min {
            problems.add("infusions.max_spacing_days", format!("{max} is less than min_spacing_days {min}"));
        }
    }
    if let Some(min) = infusions.min_spacing_days {
        check_positive("infusions.min_spacing_days", min, problems);
        let needed = infusions.count.saturating_sub(1).saturating_mul(min);
        if infusions.count > 1 && needed > def.course_days - 1 {
            problems.add(
                "infusions.min_spacing_days",
                format!(
                    "{} infusions at least {min} days apart need {needed} days after the first, but the course has days 0-{}",
                    infusions.count,
                    def.course_days - 1
                ),
            );
        }
    }
    if let Some(max) = infusions.max_spacing_days {
        check_positive("infusions.max_spacing_days", max, problems);
    }
    for (idx, pair) in infusions.schedule.windows(2).enumerate() {
        let (before, after) = (pair[0].day, pair[1].day);
        let at = format!("infusions.schedule[{}].day", idx + 2);
        let gap = after - before;
        if gap <= 0 {
            problems.add(&at, format!("day {after} does not come after the previous infusion (day {before})"));
            continue;
        }
        if let Some(min) = infusions.min_spacing_days {
            if gap < min {
                problems.add(&at, format!("day {after} is {gap} days after the previous infusion (day {before}); min_spacing_days is {min}"));
            }
        }
        if let Some(max) = infusions.max_spacing_days {
            if gap > max {
                problems.add(&at, format!("day {after} is {gap} days after the previous infusion (day {before}); max_spacing_days is {max}"));
            }
        }
    }
}

fn check_therapy(def: &Definition, problems: &mut Problems) {
    let Some(therapy) = &def.therapy else { return };
    check_text("therapy.modality", &therapy.modality, problems);
    check_text("therapy.frequency", &therapy.frequency, problems);
    check_text("therapy.source", &therapy.source, problems);
    check_positive("therapy.sessions", therapy.sessions, problems);
    if let Some(minutes) = therapy.session_minutes {
        check_positive("therapy.session_minutes", minutes, problems);
    }
    let n_days = i64::try_from(therapy.days.len()).unwrap_or(i64::MAX);
    if n_days != therapy.sessions {
        problems.add("therapy.days", format!("lists {n_days} sessions but sessions is {}", therapy.sessions));
    }
    for (idx, day) in therapy.days.iter().enumerate() {
        check_day(&format!("therapy.days[{}]", idx + 1), *day, def, problems);
    }
    for (idx, pair) in therapy.days.windows(2).enumerate() {
        if pair[1] <= pair[0] {
            problems.add(
                format!("therapy.days[{}]", idx + 2),
                format!("day {} does not come after the previous session (day {})", pair[1], pair[0]),
            );
        }
    }
    if let Some(per_week) = &therapy.sessions_per_week {
        let n_weeks = (def.course_days.max(0) + 6) / 7;
        let given = i64::try_from(per_week.len()).unwrap_or(i64::MAX);
        if given != n_weeks {
            problems.add("therapy.sessions_per_week", format!("gives {given} weeks but the course has {n_weeks}"));
        }
        for (week_idx, expected) in per_week.iter().enumerate() {
            let week = i64::try_from(week_idx).unwrap_or(i64::MAX);
            let found = therapy.days.iter().filter(|day| day.div_euclid(7) == week).count();
            let found = i64::try_from(found).unwrap_or(i64::MAX);
            if found != *expected {
                problems.add(
                    "therapy.sessions_per_week",
                    format!("week {} has {found} sessions in days but sessions_per_week says {expected}", week_idx + 1),
                );
            }
        }
    }
}

fn check_integration(def: &Definition, problems: &mut Problems) {
    let Some(integration) = &def.integration else { return };
    check_text("integration.source", &integration.source, problems);
    if integration.sessions != def.infusions.count {
        problems.add(
            "integration.sessions",
            format!("{} sessions, but one follows each of the {} infusions", integration.sessions, def.infusions.count),
        );
    }
    if integration.days_after_each_infusion < 0 {
        problems.add("integration.days_after_each_infusion", format!("{} must be 0 or more", integration.days_after_each_infusion));
    }
    if let Some(minutes) = integration.session_minutes {
        check_positive("integration.session_minutes", minutes, problems);
    }
    for (idx, planned) in def.infusions.schedule.iter().enumerate() {
        let day = planned.day.saturating_add(integration.days_after_each_infusion);
        if day >= def.course_days {
            problems.add(
                "integration.days_after_each_infusion",
                format!("the session after infusion {} falls on day {day}, outside the course (days 0-{})", idx + 1, def.course_days - 1),
            );
        }
    }
}

fn check_assessments(def: &Definition, instrument_ids: &BTreeSet<String>, problems: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (idx, assessment) in def.assessments.iter().enumerate() {
        let at = format!("assessments[{}]", idx + 1);
        if !instrument_ids.contains(&assessment.instrument) {
            let known: Vec<&str> = instrument_ids.iter().map(String::as_str).collect();
            problems.add(
                format!("{at}.instrument"),
                format!("{:?} is not an instrument in data/instruments; must be one of: {}", assessment.instrument, known.join(", ")),
            );
        }
        check_text(&format!("{at}.purpose"), &assessment.purpose, problems);
        check_text(&format!("{at}.source"), &assessment.source, problems);
        if !seen.insert((assessment.instrument.clone(), assessment.relative_to == AssessmentAnchor::Start, assessment.offset_hours)) {
            problems.add(&at, format!("{} at the same time is listed twice", assessment.instrument));
        }
        let offset_days = assessment.offset_hours.div_euclid(24);
        let anchors: Vec<i64> = match assessment.relative_to {
            AssessmentAnchor::Start => vec![0],
            AssessmentAnchor::EachInfusion => def.infusions.schedule.iter().map(|s| s.day).collect(),
        };
        for anchor in anchors {
            let day = anchor.saturating_add(offset_days);
            if day < 0 || day >= def.course_days {
                problems.add(
                    format!("{at}.offset_hours"),
                    format!(
                        "{} h from day {anchor} falls on day {day}, outside the course (days 0-{})",
                        assessment.offset_hours,
                        def.course_days - 1
                    ),
                );
            }
        }
    }
}

fn check_outcomes(def: &Definition, problems: &mut Problems) {
    if let Some(text) = &def.outcomes.relapse_definition {
        check_text("outcomes.relapse_definition", text, problems);
    }
    if def.outcomes.index_date == Some(IndexDate::InpatientDischarge) && def.inpatient.is_none() {
        problems.add("outcomes.index_date", "inpatient_discharge needs an [inpatient] stay");
    }
    for (idx, window) in def.outcomes.windows.iter().enumerate() {
        let at = format!("outcomes.windows[{}]", idx + 1);
        check_text(&format!("{at}.name"), &window.name, problems);
        check_text(&format!("{at}.source"), &window.source, problems);
        check_length(&at, window.days, window.months, problems);
    }
    if let Some(follow_up) = &def.follow_up {
        check_text("follow_up.source", &follow_up.source, problems);
        check_length("follow_up", follow_up.days, follow_up.months, problems);
    }
}

/// Exactly one of `days` and `months`, more than 0.
fn check_length(at: &str, days: Option<i64>, months: Option<i64>, problems: &mut Problems) {
    match (days, months) {
        (Some(days), None) => check_positive(&format!("{at}.days"), days, problems),
        (None, Some(months)) => {
            if !(1..=1200).contains(&months) {
                problems.add(format!("{at}.months"), format!("{months} must be 1 to 1200"));
            }
        }
        _ => problems.add(at, "give exactly one of days and months"),
    }
}

/// Every optional fact is either set or listed under `unset` with a reason, never both.
fn check_unset(def: &Definition, problems: &mut Problems) {
    let mut listed = BTreeSet::new();
    for (idx, unset) in def.unset.iter().enumerate() {
        let at = format!("unset[{}]", idx + 1);
        if !UNSETTABLE.contains(&unset.field.as_str()) {
            problems.add(format!("{at}.field"), format!("{:?} must be one of: {}", unset.field, UNSETTABLE.join(", ")));
        }
        if !listed.insert(unset.field.as_str()) {
            problems.add(format!("{at}.field"), format!("{} is listed twice", unset.field));
        }
        check_text(&format!("{at}.reason"), &unset.reason, problems);
    }
    let facts: [(&str, Option<bool>); 9] = [
        ("infusions.max_mg", Some(def.infusions.max_mg.is_some())),
        ("infusions.min_spacing_days", Some(def.infusions.min_spacing_days.is_some())),
        ("infusions.max_spacing_days", Some(def.infusions.max_spacing_days.is_some())),
        ("therapy.session_minutes", def.therapy.as_ref().map(|t| t.session_minutes.is_some())),
        ("integration.session_minutes", def.integration.as_ref().map(|i| i.session_minutes.is_some())),
        ("outcomes.relapse_definition", Some(def.outcomes.relapse_definition.is_some())),
        ("outcomes.dropout_is_relapse", Some(def.outcomes.dropout_is_relapse.is_some())),
        ("outcomes.index_date", Some(def.outcomes.index_date.is_some())),
        ("follow_up", Some(def.follow_up.is_some())),
    ];
    for (field, set) in facts {
        let is_listed = listed.contains(field);
        match set {
            // The section is absent, so its fact cannot be set or unset.
            None if is_listed => problems.add("unset", format!("{field}: its section is absent")),
            None => {}
            Some(true) if is_listed => problems.add(field, "is set and also listed under unset"),
            Some(false) if !is_listed => problems.add(field, "is missing: set it, or list it under [[unset]] with the reason (\"needs clinic setting: …\")"),
            Some(_) => {}
        }
    }
}
