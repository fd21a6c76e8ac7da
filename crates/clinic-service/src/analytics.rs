//! Program analytics for the director and the physicians: aggregates only.
//!
//! Each patient with a signed plan has a stored summary of their derived
//! outcomes (`clinic_domain::analytics::PatientSummary`, with the definition
//! of each figure), computed from the records by the same code as the
//! chart's Outcomes tab. A summary is recomputed when it is stale: computed
//! on an earlier clinic day, or older than an audited change to the
//! patient's record (every write commits with its audit event, so no write
//! can be missed). The dashboard and the cohort export read the summaries,
//! so confirming a relapse changes both at once, and the export's CSV run
//! through `ketaclinic stats survival` reproduces the dashboard's curve.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use clinic_domain::analytics::{
    figure_for, funnel, outcomes, reading, Filters, Funnel, FunnelFacts, PatientSummary, ProtocolOutcomes, Published, RelapseSummary, RetentionSummary, SubstanceWindow, WindowSummary, WindowVerdict,
};
use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::outcome::measure::{protocol_window, AbstinenceVerdict, RetentionStatus};
use clinic_domain::patient::Patient;
use clinic_domain::schedule::BookingStatus;
use clinic_domain::protocol::EventKind;
use clinic_store::analytics::OutcomeSnapshotRow;
use clinic_store::Store;
use clinic_survival::km::KaplanMeier;
use serde_json::json;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ServiceError;
use crate::relapse::{course_dates, described_rule};
use crate::Clinic;

/// How far back an audited change may have been stamped before it commits:
/// a summary's mark is set this long before it starts reading, so a change
/// committed while it read makes it stale rather than being missed.
const MARK_MARGIN_SECONDS: i64 = 5;

/// One protocol's panel on the dashboard.
#[derive(Debug, Clone)]
pub struct ProtocolPanel {
    pub protocol_id: String,
    pub title: String,
    pub outcomes: ProtocolOutcomes,
    pub km: Option<KaplanMeier>,
    /// The published ketamine-arm results for the protocol, the clinic's figure in words, and the reading.
    pub comparisons: Vec<(Published, String, String)>,
    /// The definitions behind the figures (from the summaries), by figure.
    pub definitions: BTreeMap<String, String>,
}

/// Chair use at one site over the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteUtilisation {
    pub site_id: Uuid,
    pub site: String,
    pub chairs: usize,
    /// Chair-minutes the site is open (chairs × opening hours, closures out).
    pub open_chair_minutes: i64,
    /// Chair-minutes booked for infusions, recovery included (booked or attended).
    pub booked_chair_minutes: i64,
    pub infusions_booked: usize,
    pub infusions_attended: usize,
    pub no_shows: usize,
}

/// The director's dashboard, whole.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub filters: Filters,
    pub today: NaiveDate,
    /// The period utilisation covers (the filter's, or the last 28 days).
    pub period: (NaiveDate, NaiveDate),
    pub overall: ProtocolOutcomes,
    pub protocols: Vec<ProtocolPanel>,
    pub funnel: Funnel,
    pub utilisation: Vec<SiteUtilisation>,
    /// Summaries recomputed for this view.
    pub refreshed: usize,
    /// Summaries still from an earlier day (the background refresh brings
    /// them up to date; figures that depend on the date may lag until then).
    pub earlier_day: usize,
    /// Every site, for the filter.
    pub sites: Vec<(Uuid, String)>,
    /// Every protocol installed, for the filter.
    pub protocol_ids: Vec<String>,
}

/// The dashboard's filters as typed, checked.
#[derive(Debug, Clone, Default)]
pub struct FilterInput {
    pub protocol: Option<String>,
    pub substance: Option<String>,
    pub site: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl<S: Store> Clinic<S> {
    /// The published ketamine-arm results for a protocol.
    pub fn published_for(&self, protocol_id: &str) -> Vec<Published> {
        self.published().iter().filter(|p| p.protocol == protocol_id).cloned().collect()
    }

    /// Derives one patient's summary from the records (no permission check, no audit).
    pub(crate) async fn summary_of(&self, patient: &Patient) -> Result<Option<PatientSummary>, ServiceError> {
        let Some(plan) = self.outcome_plan(patient).await? else { return Ok(None) };
        let facts = self.outcome_facts(patient).await?;
        let mut definitions = BTreeMap::new();
        // Infusions given and adverse events, from the chair's charts (read with the facts).
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let infusions_given = count(facts.infusions_at.len());
        let adverse_events = count(facts.adverse_severities.len());
        let severe_adverse_events = count(facts.adverse_severities.iter().filter(|s| matches!(s.as_str(), "severe" | "serious")).count());
        definitions.insert("infusions given".into(), "sessions at the chair whose pump was started".into());
        definitions.insert("adverse events".into(), "adverse events recorded on the chair's chart; severe = recorded as severe or serious".into());
        let (retention, sessions_expected, sessions_attended, window) = match self.protocols().get(&plan.header.protocol_id) {
            None => (RetentionSummary::NotOver, 0, 0, None),
            Some(protocol) => {
                let course = course_dates(&plan, protocol.definition().course_days);
                let c = self.course_results(patient, &plan, &facts, &course).await?;
                let retention = match &c.retention {
                    Some(r) => {
                        definitions.insert("retention".into(), described_rule(&r.definition));
                        match r.status {
                            RetentionStatus::Retained => RetentionSummary::Retained,
                            RetentionStatus::NotRetained => RetentionSummary::NotRetained,
                            RetentionStatus::WindowNotOver => RetentionSummary::NotOver,
                        }
                    }
                    None => RetentionSummary::NotOver,
                };
                let (expected, attended) = match &c.attendance {
                    Some(a) => {
                        definitions.insert("counseling attendance".into(), described_rule(&a.definition));
                        (count(a.expected), count(a.attended))
                    }
                    None => (0, 0),
                };
                let window = match protocol.definition().outcomes.windows.first().map(|w| protocol_window(w, &course)) {
                    Some(Ok(w)) => {
                        let results = self.window_results(patient, &plan, &facts, &w);
                        let substances = results
                            .iter()
                            .map(|r| {
                                definitions.insert(format!("{}: abstinence", r.substance.as_str()), described_rule(&r.abstinence.definition));
                                definitions.insert(format!("{}: percent days abstinent", r.substance.as_str()), described_rule(&r.pda.definition));
                                if let Some(h) = &r.heavy {
                                    definitions.insert("heavy drinking days".into(), described_rule(&h.definition));
                                }
                                SubstanceWindow {
                                    substance: r.substance.as_str().into(),
                                    verdict: match r.abstinence.verdict {
                                        AbstinenceVerdict::Abstinent => WindowVerdict::Abstinent,
                                        AbstinenceVerdict::NotAbstinent => WindowVerdict::NotAbstinent,
                                        AbstinenceVerdict::Undetermined => WindowVerdict::Undetermined,
                                    },
                                    biologically_confirmed: r.abstinence.biologically_confirmed,
                                    abstinent_days: count(r.pda.abstinent_days),
                                    days_assessed: count(r.pda.days_assessed),
                                    heavy_days: r.heavy.as_ref().map(|h| count(h.heavy_days.len())),
                                }
                            })
                            .collect();
                        Some(WindowSummary { name: w.name.clone(), first: w.days.first(), last: w.days.last(), over: w.days.last() < facts.today, substances })
                    }
                    _ => None,
                };
                (retention, expected, attended, window)
            }
        };
        let relapse = match self.evaluate_relapse(patient, &plan, &facts).await?.0 {
            Err(reason) => RelapseSummary::Unavailable { reason },
            Ok(o) if !o.time.pending.is_empty() => RelapseSummary::Pending { proposals: count(o.time.pending.len()) },
            Ok(o) => {
                let d = &o.definition;
                let unset = || "unset (needs clinic setting)".to_string();
                let triggers = d.triggers.require().map_or_else(|_| unset(), |t| t.iter().map(trigger_words).collect::<Vec<_>>().join(" or "));
                let dropout = d.dropout_is_relapse.require().map_or_else(|_| unset(), |b| if *b { "yes".into() } else { "no (censored at the last contact)".into() });
                let index = d.index_date.require().map_or_else(|_| unset(), |i| index_words(*i).to_string());
                let end = d.follow_up_end.require().map_or_else(|_| unset(), |e| end_words(*e));
                definitions.insert(
                    "time to relapse".into(),
                    format!("relapse: {triggers}; dropout counts as relapse: {dropout}; days counted from {index}; follow-up ends {end}; only events a clinician confirmed count"),
                );
                RelapseSummary::Settled { days: o.time.point.days, relapsed: o.time.point.relapsed }
            }
        };
        let misuse_confirmed = count(self.misuse_of(patient, &facts).await?.confirmed);
        definitions.insert("ketamine misuse".into(), "flags (an unexplained ketamine positive, a ketamine craving, a request for more ketamine) a physician confirmed".into());
        Ok(Some(PatientSummary {
            patient_id: patient.id,
            plan_id: plan.header.id,
            protocol_id: plan.header.protocol_id.clone(),
            substances: self.treated_substances(patient, &plan).iter().map(|s| s.as_str().to_string()).collect(),
            site_id: Some(patient.site_id),
            start_date: plan.header.start_date,
            infusions_given,
            adverse_events,
            severe_adverse_events,
            retention,
            sessions_expected,
            sessions_attended,
            window,
            relapse,
            misuse_confirmed,
            definitions,
        }))
    }

    /// Recomputes every stale summary, those from an earlier day included;
    /// returns how many. Run in the background by `serve` and `demo`
    /// (`spawn_outcome_refresh`) and by the cohort export.
    pub async fn refresh_outcome_summaries(&self) -> Result<usize, ServiceError> {
        let today = self.clinic_today().await?;
        self.refresh_summaries(today, Some(today)).await
    }

    /// Recomputes the missing summaries and those a change to the record
    /// made stale, and, with `stale_before`, those computed before that day.
    async fn refresh_summaries(&self, today: NaiveDate, stale_before: Option<NaiveDate>) -> Result<usize, ServiceError> {
        let unchanging: Vec<&'static str> = AuditAction::ALL.into_iter().filter(|a| !a.may_change_record()).map(AuditAction::as_str).collect();
        let stale = self.store().stale_outcome_snapshots(stale_before, &unchanging).await?;
        let mut done = 0;
        for patient_id in stale {
            let mark_at = Utc::now() - Duration::seconds(MARK_MARGIN_SECONDS);
            let mark = Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, u64::try_from(mark_at.timestamp()).unwrap_or(0), mark_at.timestamp_subsec_nanos()));
            let patient = self.store().get_patient(patient_id).await?;
            let Some(summary) = self.summary_of(&patient).await? else { continue };
            let row = OutcomeSnapshotRow {
                patient_id,
                plan_id: summary.plan_id,
                protocol_id: summary.protocol_id.clone(),
                site_id: summary.site_id,
                start_date: summary.start_date.to_string(),
                mark,
                computed_on: today.to_string(),
                computed_at: self.now(),
                summary: serde_json::to_string(&summary).map_err(|e| ServiceError::Internal(e.into()))?,
            };
            self.store().put_outcome_snapshot(&row).await?;
            done += 1;
        }
        Ok(done)
    }

    /// The clinic's date today (its first site's zone; UTC before any site
    /// is set up, when there is no patient either).
    pub(crate) async fn clinic_today(&self) -> Result<NaiveDate, ServiceError> {
        let zone = match self.store().list_sites().await?.first() {
            Some(site) => Self::site_zone(site),
            None => chrono_tz::UTC,
        };
        Ok(self.now().with_timezone(&zone).date_naive())
    }

    /// Every stored summary, with those stale from a change recomputed first;
    /// `whole_day` recomputes those from before `today` too. Returns the
    /// summaries, how many were recomputed, and how many are still from an
    /// earlier day.
    pub(crate) async fn outcome_summaries(&self, today: NaiveDate, whole_day: bool) -> Result<(Vec<PatientSummary>, usize, usize), ServiceError> {
        let refreshed = self.refresh_summaries(today, whole_day.then_some(today)).await?;
        let today = today.to_string();
        let rows = self.store().outcome_snapshots().await?;
        let earlier = rows.iter().filter(|r| r.computed_on < today).count();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let s: PatientSummary = serde_json::from_str(&r.summary).map_err(|e| ServiceError::Internal(anyhow::anyhow!("stored outcome summary of {} does not parse: {e}", r.patient_id)))?;
            out.push(s);
        }
        Ok((out, refreshed, earlier))
    }

    /// Checks the dashboard's filters, naming the field and the allowed values.
    pub fn parse_filters(&self, input: &FilterInput) -> Result<Filters, ServiceError> {
        use clinic_domain::field::{FieldError, FieldErrors};
        let mut errors = Vec::new();
        let blank = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let protocol = blank(&input.protocol);
        if let Some(p) = &protocol {
            if self.protocols().get(p).is_none() {
                let known: Vec<String> = self.protocols().ids().into_iter().map(str::to_string).collect();
                errors.push(FieldError::new("protocol", format!("must be one of: {}", known.join(", "))));
            }
        }
        let substance = blank(&input.substance);
        if let Some(s) = &substance {
            if let Err(e) = clinic_domain::patient::Substance::parse(s) {
                errors.push(FieldError::new("substance", e.message));
            }
        }
        let site = match blank(&input.site) {
            None => None,
            Some(s) => match Uuid::parse_str(&s) {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(FieldError::new("site", "must be a site id from the list"));
                    None
                }
            },
        };
        let date = |field: &'static str, v: &Option<String>, errors: &mut Vec<FieldError>| match blank(v) {
            None => None,
            Some(s) => match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(FieldError::new(field, format!("must be a date YYYY-MM-DD, got {s:?}")));
                    None
                }
            },
        };
        let from = date("from", &input.from, &mut errors);
        let to = date("to", &input.to, &mut errors);
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                errors.push(FieldError::new("to", format!("must be on or after from ({f})")));
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        }
        Ok(Filters { protocol, substance, site, from, to })
    }

    /// The director's dashboard (directors and physicians; aggregates only; audited).
    pub async fn program_dashboard(&self, principal: &Principal, input: &FilterInput) -> Result<Dashboard, ServiceError> {
        self.authorize(principal, Permission::AnalyticsRead, "read program analytics").await?;
        let filters = self.parse_filters(input)?;
        let sites = self.store().list_sites().await?;
        let zone = sites.first().map_or(chrono_tz::UTC, Self::site_zone);
        let today = self.now().with_timezone(&zone).date_naive();
        let (summaries, refreshed, earlier_day) = self.outcome_summaries(today, false).await?;
        let overall = outcomes(&summaries, &filters, None);
        let mut ids: Vec<String> = summaries.iter().filter(|s| filters.admits(s)).map(|s| s.protocol_id.clone()).collect();
        ids.sort();
        ids.dedup();
        let protocols = ids
            .iter()
            .map(|id| {
                let o = outcomes(&summaries, &filters, Some(id));
                let comparisons = self
                    .published_for(id)
                    .into_iter()
                    .map(|p| {
                        let figure = figure_for(&o, p.measure);
                        let words = match figure {
                            clinic_domain::analytics::ComparedFigure::Proportion(x) => x.words(),
                            clinic_domain::analytics::ComparedFigure::Mean(m) => m.words(),
                        };
                        let r = reading(&figure, &p);
                        (p, words, r)
                    })
                    .collect();
                let definitions = summaries.iter().filter(|s| s.protocol_id == *id && filters.admits(s)).flat_map(|s| s.definitions.clone()).collect();
                let title = self.protocols().get(id).map_or_else(|| id.clone(), |p| p.definition().title.clone());
                ProtocolPanel { protocol_id: id.clone(), title, km: o.kaplan_meier(), outcomes: o, comparisons, definitions }
            })
            .collect();
        let facts: Vec<FunnelFacts> = {
            let local = |t: DateTime<Utc>| t.with_timezone(&zone).date_naive();
            self.store().funnel_rows().await?.into_iter().map(|r| FunnelFacts { inquiry_on: local(r.inquiry_at), screened_on: r.screened_at.map(local), treated_on: r.treated_at.map(local) }).collect()
        };
        let funnel = funnel(&facts, filters.from, filters.to);
        let period = (filters.from.unwrap_or(today - Duration::days(27)), filters.to.unwrap_or(today));
        let mut utilisation = Vec::new();
        for site in sites.iter().filter(|s| filters.site.is_none_or(|id| id == s.id)) {
            utilisation.push(self.site_utilisation(site, period).await?);
        }
        let audit = AuditEvent::new(
            Uuid::now_v7(),
            self.now(),
            &principal.actor(),
            AuditAction::AnalyticsRead,
            AuditTarget::none("analytics"),
            Outcome::Success,
            Some(json!({ "protocol": filters.protocol, "substance": filters.substance, "site": filters.site, "from": filters.from, "to": filters.to, "patients": overall.patients }).to_string()),
        );
        self.audit_writer().record(vec![audit]).await?;
        Ok(Dashboard {
            filters,
            today,
            period,
            overall,
            protocols,
            funnel,
            utilisation,
            refreshed,
            earlier_day,
            sites: sites.iter().map(|s| (s.id, s.name.clone())).collect(),
            protocol_ids: self.protocols().ids().into_iter().map(str::to_string).collect(),
        })
    }

    /// The cohort behind the dashboard's curves, with its filters
    /// (directors and physicians; audited as an export). The rows carry the
    /// export's pseudonyms; the page numbers them instead (`unlinked_cohort_csv`).
    pub async fn dashboard_cohort(&self, principal: &Principal, input: &FilterInput) -> Result<Vec<crate::relapse::CohortRow>, ServiceError> {
        self.authorize(principal, Permission::AnalyticsRead, "download the time-to-relapse cohort").await?;
        let filters = self.parse_filters(input)?;
        Ok(self.cohort_filtered(&principal.actor(), &filters, false).await?.0)
    }

    /// Chair use at a site over `[first, last]`.
    async fn site_utilisation(&self, site: &clinic_store::records::Site, (first, last): (NaiveDate, NaiveDate)) -> Result<SiteUtilisation, ServiceError> {
        use chrono::Datelike;
        use clinic_domain::schedule::ResourceKind;
        let zone = Self::site_zone(site);
        let schedule = self.store().get_site_schedule(site.id).await?;
        let chairs = schedule.as_ref().map_or(0, |s| s.resources.iter().filter(|r| r.kind == ResourceKind::Chair).count());
        let mut open_minutes = 0i64;
        if let Some(s) = &schedule {
            let mut day = first;
            while day <= last {
                if !s.closures.iter().any(|(d, _)| *d == day) {
                    let weekday = i64::from(day.weekday().num_days_from_monday());
                    for h in s.hours.iter().filter(|h| h.weekday == weekday) {
                        open_minutes += (h.closes - h.opens).num_minutes().max(0);
                    }
                }
                day += Duration::days(1);
            }
        }
        let chairs_i64 = i64::try_from(chairs).unwrap_or(i64::MAX);
        let start = clinic_domain::schedule::hours::local_instant(zone, first, chrono::NaiveTime::MIN);
        let end = last.succ_opt().and_then(|d| clinic_domain::schedule::hours::local_instant(zone, d, chrono::NaiveTime::MIN));
        let bookings = match (start, end) {
            (Some(a), Some(b)) => self.store().site_bookings(site.id, a, b).await?,
            _ => Vec::new(),
        };
        let infusions: Vec<_> = bookings.iter().filter(|b| b.kind == EventKind::Infusion).collect();
        let live = |b: &&&clinic_store::schedule::BookingRecord| matches!(b.status, BookingStatus::Booked | BookingStatus::Attended);
        Ok(SiteUtilisation {
            site_id: site.id,
            site: site.name.clone(),
            chairs,
            open_chair_minutes: open_minutes.saturating_mul(chairs_i64),
            booked_chair_minutes: infusions.iter().filter(live).map(|b| (b.occupied_until - b.starts_at).num_minutes().max(0)).sum(),
            infusions_booked: infusions.iter().filter(live).count(),
            infusions_attended: infusions.iter().filter(|b| b.status == BookingStatus::Attended).count(),
            no_shows: infusions.iter().filter(|b| b.status == BookingStatus::NoShow).count(),
        })
    }
}

fn trigger_words(t: &clinic_domain::outcome::relapse::RelapseTrigger) -> String {
    use clinic_domain::outcome::relapse::RelapseTrigger as T;
    match t {
        T::SelfReportedUse => "any day of reported use".into(),
        T::UnexplainedPositiveTest => "an unexplained positive test".into(),
        T::HeavyDrinkingDay(rule) => format!("a heavy drinking day ({})", rule.source),
        T::ConsecutiveUseDays(n) => format!("use on {n} consecutive days"),
    }
}

fn index_words(i: clinic_domain::protocol::definition::IndexDate) -> &'static str {
    use clinic_domain::protocol::definition::IndexDate as I;
    match i {
        I::Start => "the plan's start (day 0)",
        I::FirstInfusion => "the first infusion",
        I::LastInfusion => "the last infusion",
        I::InpatientDischarge => "the inpatient discharge",
        I::CourseEnd => "the course's last day",
    }
}

fn end_words(e: clinic_domain::outcome::relapse::FollowUpEnd) -> String {
    use clinic_domain::outcome::relapse::FollowUpEnd as E;
    match e {
        E::CourseEnd => "at the course's last day".into(),
        E::ProtocolFollowUp => "at the protocol's follow-up contact".into(),
        E::DaysAfterIndex(n) => format!("{n} days after the index date"),
    }
}

/// The Kaplan–Meier table as CSV: what the dashboard draws and what
/// `ketaclinic stats survival` prints for the same cohort.
pub fn km_csv(panels: &[ProtocolPanel]) -> String {
    let mut out = String::from("arm,time,at_risk,observed,censored,survival,ci_lower,ci_upper\n");
    for p in panels {
        if let Some(km) = &p.km {
            for i in 0..km.timeline.len() {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{}\n",
                    p.protocol_id, km.timeline[i], km.at_risk[i], km.observed[i], km.censored[i], km.survival[i], km.ci_lower[i], km.ci_upper[i]
                ));
            }
        }
    }
    out
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(String::new, |v| format!("{v:.4}"))
}

/// The outcomes table as CSV, one row per protocol and one for all.
pub fn outcomes_csv(d: &Dashboard) -> String {
    let mut out = String::from(
        "protocol,patients,retained,retention_denominator,retention_pct,retention_ci_lower,retention_ci_upper,sessions_attended,sessions_expected,window,window_abstinent,window_denominator,window_abstinent_pct,window_ci_lower,window_ci_upper,window_undetermined,pda_patients,pda_mean,pda_ci_lower,pda_ci_upper,heavy_days,heavy_days_assessed,relapse_settled,relapse_events,relapse_pending,relapse_unavailable,median_days_to_relapse,infusions,adverse_events,severe_adverse_events,adverse_per_100_infusions,misuse_patients,misuse_per_100_patients\n",
    );
    let row = |name: &str, o: &ProtocolOutcomes, km: Option<&KaplanMeier>| {
        let (rl, ru) = o.retention.interval().map_or((None, None), |(a, b)| (Some(a), Some(b)));
        let (wl, wu) = o.window_abstinence.interval().map_or((None, None), |(a, b)| (Some(a), Some(b)));
        let (pl, pu) = o.pda.interval.map_or((None, None), |(a, b)| (Some(a), Some(b)));
        format!(
            "{name},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            o.patients,
            o.retention.k,
            o.retention.n,
            pct(o.retention.percent()),
            pct(rl),
            pct(ru),
            o.attendance.k,
            o.attendance.n,
            csv_text(o.window_name.as_deref().unwrap_or("")),
            o.window_abstinence.k,
            o.window_abstinence.n,
            pct(o.window_abstinence.percent()),
            pct(wl),
            pct(wu),
            o.window_undetermined,
            o.pda.n,
            pct(o.pda.mean),
            pct(pl),
            pct(pu),
            o.heavy_days.k,
            o.heavy_days.n,
            o.times.len(),
            o.times.iter().filter(|t| t.1).count(),
            o.relapse_pending,
            o.relapse_unavailable.values().sum::<u32>(),
            km.and_then(|k| k.median).map_or_else(String::new, |m| m.to_string()),
            o.infusions,
            o.adverse_events,
            o.severe_adverse_events,
            pct(o.adverse_per_100_infusions()),
            o.misuse_patients,
            pct(o.misuse_per_100_patients()),
        )
    };
    for p in &d.protocols {
        out.push_str(&row(&p.protocol_id, &p.outcomes, p.km.as_ref()));
    }
    let all_km = d.overall.kaplan_meier();
    out.push_str(&row("all", &d.overall, all_km.as_ref()));
    out
}

fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The funnel as CSV.
pub fn funnel_csv(f: &Funnel) -> String {
    format!(
        "stage,count,median_days_from_previous\ninquiry,{},\nscreening,{},{}\ntreatment,{},{}\n",
        f.inquiries,
        f.screened,
        f.median_days_to_screening.map_or_else(String::new, |m| m.to_string()),
        f.treated,
        f.median_days_to_treatment.map_or_else(String::new, |m| m.to_string())
    )
}

/// Chair utilisation as CSV.
pub fn utilisation_csv(d: &Dashboard) -> String {
    let mut out = String::from("site,from,to,chairs,open_chair_minutes,booked_chair_minutes,utilisation_pct,infusions_booked,infusions_attended,no_shows\n");
    for u in &d.utilisation {
        let pct_used = (u.open_chair_minutes > 0).then(|| 100.0 * minutes_f64(u.booked_chair_minutes) / minutes_f64(u.open_chair_minutes));
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            csv_text(&u.site),
            d.period.0,
            d.period.1,
            u.chairs,
            u.open_chair_minutes,
            u.booked_chair_minutes,
            pct(pct_used),
            u.infusions_booked,
            u.infusions_attended,
            u.no_shows
        ));
    }
    out
}

/// Minutes as a float for a percentage (chair-minutes stay far below 2^31 in any real period).
pub fn minutes_f64(m: i64) -> f64 {
    f64::from(i32::try_from(m).unwrap_or(i32::MAX))
}

/// Safety events as CSV, one row per protocol and one for all.
pub fn safety_csv(d: &Dashboard) -> String {
    let mut out = String::from("protocol,patients,infusions,adverse_events,severe_adverse_events,adverse_per_100_infusions,misuse_patients,misuse_per_100_patients\n");
    let mut row = |name: &str, o: &ProtocolOutcomes| {
        out.push_str(&format!(
            "{name},{},{},{},{},{},{},{}\n",
            o.patients,
            o.infusions,
            o.adverse_events,
            o.severe_adverse_events,
            pct(o.adverse_per_100_infusions()),
            o.misuse_patients,
            pct(o.misuse_per_100_patients())
        ));
    };
    for p in &d.protocols {
        row(&p.protocol_id, &p.outcomes);
    }
    row("all", &d.overall);
    out
}

/// Recomputes stale outcome summaries every `interval` (after midnight,
/// every patient's once) so the dashboard's first view of a day does not
/// pay for it.
pub fn spawn_outcome_refresh<S: Store>(clinic: Clinic<S>, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match clinic.refresh_outcome_summaries().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(recomputed = n, "outcome summaries brought up to date"),
                Err(err) => tracing::warn!(error = %err, "recomputing outcome summaries failed; will retry"),
            }
            tokio::time::sleep(interval).await;
        }
    })
}
