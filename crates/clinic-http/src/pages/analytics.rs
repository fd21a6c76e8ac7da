//! The director's dashboard: the program's outcomes by protocol beside the
//! published ketamine arm of each trial, Kaplan–Meier curves of time to
//! relapse with their interval bands and at-risk tables, the front door's
//! funnel, chair utilisation and safety events. Aggregates only: no patient
//! is named or linked. Every figure downloads as CSV with the same filters.

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use clinic_domain::analytics::ProtocolOutcomes;
use clinic_service::analytics::{Dashboard, FilterInput, ProtocolPanel, funnel_csv, km_csv, minutes_f64, outcomes_csv, safety_csv, utilisation_csv};
use clinic_service::auth::Principal;
use clinic_store::Store;
use clinic_survival::km::KaplanMeier;
use maud::{Markup, html};
use serde::Deserialize;

use crate::AppState;
use crate::pages::{Nav, csv_response, failure, staff_page};

#[derive(Debug, Default, Deserialize)]
pub struct FilterQuery {
    pub protocol: Option<String>,
    pub substance: Option<String>,
    pub site: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl FilterQuery {
    fn input(&self) -> FilterInput {
        FilterInput { protocol: self.protocol.clone(), substance: self.substance.clone(), site: self.site.clone(), from: self.from.clone(), to: self.to.clone() }
    }

    /// The same filters as a query string, for the download links.
    fn query_string(&self) -> String {
        let pairs: Vec<(&str, &str)> = [("protocol", &self.protocol), ("substance", &self.substance), ("site", &self.site), ("from", &self.from), ("to", &self.to)]
            .into_iter()
            .filter_map(|(k, v)| v.as_deref().filter(|v| !v.trim().is_empty()).map(|v| (k, v)))
            .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |v| format!("{v:.1}"))
}

pub async fn show<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Query(q): Query<FilterQuery>) -> Response {
    let d = match app.clinic.program_dashboard(&principal, &q.input()).await {
        Ok(d) => d,
        Err(e) => return failure(e),
    };
    let site = match app.clinic.main_site().await {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    staff_page(&principal, &site.name, "Program outcomes", Nav::Analytics, html! { div.analytics { (page(&d, &q)) } })
}

fn page(d: &Dashboard, q: &FilterQuery) -> Markup {
    let qs = q.query_string();
    let link = |file: &str| if qs.is_empty() { format!("/analytics/{file}") } else { format!("/analytics/{file}?{qs}") };
    let selected = |current: &Option<String>, value: &str| current.as_deref() == Some(value);
    html! {
        h1 { "Program outcomes" }
        p.muted {
            "Aggregates only: no patient is named here. Each figure comes from every patient's stored outcome summary, recomputed when the record changes ("
            (d.refreshed) " recomputed for this view). Today is " (d.today) "."
        }
        @if d.earlier_day > 0 {
            p.notice data-testid="earlier-day" {
                (d.earlier_day) " patient summaries were computed on an earlier day and are being brought up to date in the background; "
                "figures that depend on the date (windows that end, follow-up time) may lag until then."
            }
        }
        form.filters method="get" action="/analytics" data-testid="filters" {
            label { "Protocol "
                select name="protocol" {
                    option value="" { "All" }
                    @for id in &d.protocol_ids { option value=(id) selected[selected(&q.protocol, id)] { (id) } }
                }
            }
            label { "Substance "
                select name="substance" {
                    option value="" { "All" }
                    @for s in clinic_domain::patient::Substance::ALL.iter().copied() { option value=(s.as_str()) selected[selected(&q.substance, s.as_str())] { (s.as_str()) } }
                }
            }
            label { "Site "
                select name="site" {
                    option value="" { "All" }
                    @for (id, name) in &d.sites { option value=(id) selected[selected(&q.site, &id.to_string())] { (name) } }
                }
            }
            label { "Course started from " input type="date" name="from" value=[d.filters.from.map(|x| x.to_string())]; }
            label { "to " input type="date" name="to" value=[d.filters.to.map(|x| x.to_string())]; }
            button type="submit" { "Apply" }
        }
        (overview(&d.overall, d.filters != clinic_domain::analytics::Filters::default()))
        @if d.protocols.is_empty() {
            p.card { "No patient with a signed plan matches these filters." }
        }
        @for p in &d.protocols { (protocol_panel(p)) }
        (funnel_section(d))
        (utilisation_section(d))
        (safety_section(d))
        section.card #downloads data-testid="downloads" {
            h2 { "Downloads (CSV, with these filters)" }
            ul {
                li { a href=(link("outcomes.csv")) { "Outcomes by protocol" } }
                li { a href=(link("km.csv")) { "Kaplan–Meier tables" } }
                li { a href=(link("cohort.csv")) { "Time-to-relapse cohort" } " — " code { "patient_id,arm,days,relapsed" } " with numbered rows (no pseudonym links a row to a patient), audited as an export" }
                li { a href=(link("funnel.csv")) { "Funnel" } }
                li { a href=(link("utilisation.csv")) { "Chair utilisation" } }
                li { a href=(link("safety.csv")) { "Safety events" } }
            }
            p {
                "The survival figures are reproduced exactly by the command line on the same cohort: "
                code { "ketaclinic export cohort --out cohort.csv" } " then " code { "ketaclinic stats survival --csv cohort.csv" }
                " (without filters other than the protocol, " code { "--protocol ID" } ")."
            }
        }
    }
}

fn overview(o: &ProtocolOutcomes, filtered: bool) -> Markup {
    html! {
        section.card #overview data-testid="overview" {
            h2 { @if filtered { "The patients these filters select" } @else { "All protocols" } }
            dl.facts {
                dt { "Patients with a signed plan" } dd data-testid="patients" { (o.patients) }
                dt { "Retained through the course" } dd { (o.retention.words()) }
                dt { "Counseling sessions attended" } dd { (o.attendance.words()) }
                dt { "Adverse events per 100 infusions" } dd { (pct(o.adverse_per_100_infusions())) " (" (o.adverse_events) " in " (o.infusions) " infusions)" }
                dt { "Confirmed ketamine misuse per 100 patients" } dd data-testid="misuse" { (pct(o.misuse_per_100_patients())) " (" (o.misuse_patients) " of " (o.patients) ")" }
            }
        }
    }
}

fn protocol_panel(p: &ProtocolPanel) -> Markup {
    let o = &p.outcomes;
    html! {
        section.card.protocol data-testid="protocol" data-protocol=(p.protocol_id) {
            h2 { (p.title) " " small.muted { (p.protocol_id) } }
            table {
                thead { tr { th { "Outcome" } th { "The clinic" } } }
                tbody {
                    tr { td { "Patients" } td { (o.patients) } }
                    tr { td { "Retained through the course" } td { (o.retention.words()) } }
                    tr { td { "Counseling sessions attended" } td { (o.attendance.words()) } }
                    @if let Some(name) = &o.window_name {
                        tr { td { "Abstinent through the window “" (name) "”" } td data-testid="window-abstinence" { (o.window_abstinence.words()) @if o.window_undetermined > 0 { " — " (o.window_undetermined) " undetermined, counted as not abstinent" } } }
                        tr { td { "Percent days abstinent in the window “" (name) "”" } td { (o.pda.words()) " (normal approximation, bounded to 0–100 %)" } }
                    }
                    @if o.heavy_days.n > 0 { tr { td { "Heavy drinking days (of days assessed)" } td { (o.heavy_days.words()) } } }
                    tr { td { "Time to relapse" } td data-testid="relapse-counts" {
                        (o.times.len()) " patients settled, " (o.times.iter().filter(|t| t.1).count()) " relapsed"
                        @if let Some(m) = p.km.as_ref().and_then(|k| k.median) { "; median " (m) " days" }
                        @if o.relapse_pending > 0 { "; " (o.relapse_pending) " awaiting a clinician's decision (left out)" }
                        @for (why, n) in &o.relapse_unavailable { "; " (n) " left out: " (why) }
                    } }
                }
            }
            @if !p.comparisons.is_empty() {
                h3 { "Beside the published trial" }
                table.comparison data-testid="comparison" {
                    thead { tr { th { "What the trial measured" } th { "Trial's ketamine arm" } th { "The clinic" } th { "Reading" } } }
                    tbody {
                        @for (published, clinic, reading) in &p.comparisons {
                            tr {
                                td { (published.label) br; small.muted { (published.source) } }
                                td { @if let Some(v) = published.percent { (format!("{v:.1} %")) @if let Some(n) = published.n { " (n = " (n) ")" } } @else { "not available" } }
                                td { (clinic) }
                                td data-testid="reading" { (reading) }
                            }
                        }
                    }
                }
            }
            h3 { "Time to relapse" }
            @match &p.km {
                None => p.muted { "No patient's time to relapse is settled yet." },
                Some(km) => (km_figure(&p.protocol_id, km)),
            }
            @if !p.definitions.is_empty() {
                details {
                    summary { "Definitions behind these figures" }
                    dl { @for (name, def) in &p.definitions { dt { (name) } dd { (def) } } }
                }
            }
        }
    }
}

/// The number at risk at `t`: those whose time is `t` or later.
fn at_risk_at(km: &KaplanMeier, t: f64) -> u64 {
    km.timeline.iter().position(|&x| x >= t).map_or(0, |i| km.at_risk[i])
}

fn ticks(max: f64) -> Vec<f64> {
    let steps = [7.0, 14.0, 30.0, 60.0, 90.0, 180.0, 365.0];
    let step = steps.iter().copied().find(|s| max / s <= 6.0).unwrap_or(365.0);
    let mut out = vec![0.0];
    let mut t = step;
    while t <= max + 1e-9 {
        out.push(t);
        t += step;
    }
    out
}

/// The Kaplan–Meier curve with its 95 % band (SVG), the at-risk table under
/// it, and the whole curve as a table (the text alternative).
fn km_figure(protocol_id: &str, km: &KaplanMeier) -> Markup {
    let (w, h, left, top, plot_w, plot_h) = (640.0, 240.0, 48.0, 12.0, 572.0, 190.0);
    let max_t = km.timeline.last().copied().unwrap_or(0.0).max(1.0);
    let x = |t: f64| left + plot_w * t / max_t;
    let y = |s: f64| top + plot_h * (1.0 - s);
    // Step paths: each value holds until the next time point.
    let mut curve = format!("M{:.1},{:.1}", x(0.0), y(1.0));
    let mut upper = Vec::new();
    let mut lower = Vec::new();
    for i in 0..km.timeline.len() {
        let t = km.timeline[i];
        let next = km.timeline.get(i + 1).copied().unwrap_or(max_t);
        curve.push_str(&format!(" L{:.1},{:.1} L{:.1},{:.1}", x(t), y(km.survival[i]), x(next), y(km.survival[i])));
        upper.push((x(t), y(km.ci_upper[i])));
        upper.push((x(next), y(km.ci_upper[i])));
        lower.push((x(t), y(km.ci_lower[i])));
        lower.push((x(next), y(km.ci_lower[i])));
    }
    let band: String = upper.iter().chain(lower.iter().rev()).map(|(a, b)| format!("{a:.1},{b:.1}")).collect::<Vec<_>>().join(" ");
    let tick_list = ticks(max_t);
    let censor_marks: Vec<(f64, f64)> = (0..km.timeline.len()).filter(|&i| km.censored[i] > 0).map(|i| (x(km.timeline[i]), y(km.survival[i]))).collect();
    html! {
        figure.km data-testid="km" data-protocol=(protocol_id) {
            svg viewBox={ "0 0 " (w) " " (h) } role="img" aria-label={ "Kaplan–Meier curve of time to relapse for " (protocol_id) ", with 95 % interval band; the table below gives every point" } {
                polygon points=(band) fill="#1f5fa8" fill-opacity="0.15" stroke="none" {}
                path d=(curve) fill="none" stroke="#1f5fa8" stroke-width="2" {}
                @for (cx, cy) in &censor_marks { path d=(format!("M{:.1},{:.1} v-5 M{:.1},{:.1} v5", cx, cy, cx, cy)) stroke="#1f5fa8" {} }
                line x1=(left) y1=(top + plot_h) x2=(left + plot_w) y2=(top + plot_h) stroke="#555" {}
                line x1=(left) y1=(top) x2=(left) y2=(top + plot_h) stroke="#555" {}
                @for s in [0.0, 0.25, 0.5, 0.75, 1.0] {
                    text x=(left - 6.0) y=(y(s) + 4.0) text-anchor="end" font-size="11" { (format!("{s:.2}")) }
                }
                @for t in &tick_list {
                    text x=(x(*t)) y=(top + plot_h + 16.0) text-anchor="middle" font-size="11" { (t) }
                }
                text x=(left + plot_w / 2.0) y=(h - 4.0) text-anchor="middle" font-size="11" { "days from the index date" }
            }
            figcaption {
                "Share without a confirmed relapse (line) with its 95 % interval (band, log(−log) Greenwood); ticks mark censored patients. "
                @if let Some(m) = km.median { "Median " (m) " days" @if let (Some(lo), Some(hi)) = (km.median_ci_lower, km.median_ci_upper) { " (95 % CI " (lo) "–" (hi) ")" } "." }
                @else { "The median is not reached." }
            }
            table.at-risk data-testid="at-risk" {
                tr { th scope="row" { "Day" } @for t in &tick_list { td { (t) } } }
                tr { th scope="row" { "At risk" } @for t in &tick_list { td { (at_risk_at(km, *t)) } } }
            }
            details {
                summary { "The curve as a table" }
                table data-testid="km-table" {
                    thead { tr { th { "Day" } th { "At risk" } th { "Relapsed" } th { "Censored" } th { "Survival" } th { "95 % CI" } } }
                    tbody {
                        @for i in 0..km.timeline.len() {
                            tr { td { (km.timeline[i]) } td { (km.at_risk[i]) } td { (km.observed[i]) } td { (km.censored[i]) } td { (format!("{:.4}", km.survival[i])) } td { (format!("{:.4}–{:.4}", km.ci_lower[i], km.ci_upper[i])) } }
                        }
                    }
                }
            }
        }
    }
}

fn funnel_section(d: &Dashboard) -> Markup {
    let f = &d.funnel;
    let max = f.inquiries.max(1);
    let bar = |label: &str, n: u32, extra: String| {
        let width = 100.0 * f64::from(n) / f64::from(max);
        html! {
            tr {
                th scope="row" { (label) } td { (n) }
                td.bar { svg viewBox="0 0 100 6" width="160" height="12" aria-hidden="true" { rect x="0" y="0" width=(format!("{width:.1}")) height="6" fill="#1f5fa8" {} } }
                td { (extra) }
            }
        }
    };
    let days = |m: Option<f64>| m.map_or_else(String::new, |v| format!("median {v} days from the stage before"));
    html! {
        section.card #funnel data-testid="funnel" {
            h2 { "From inquiry to treatment" }
            p.muted { "Inquiries received " @if d.filters.from.is_some() || d.filters.to.is_some() { "in the period" } @else { "ever" } "; screened = a questionnaire or medical screening recorded for the patient the inquiry became; treated = a first infusion given." }
            table {
                thead { tr { th { "Stage" } th { "Count" } th { "" } th { "Time" } } }
                tbody {
                    (bar("Inquiry", f.inquiries, String::new()))
                    (bar("Screening", f.screened, days(f.median_days_to_screening)))
                    (bar("Treatment", f.treated, days(f.median_days_to_treatment)))
                }
            }
        }
    }
}

fn utilisation_section(d: &Dashboard) -> Markup {
    html! {
        section.card #utilisation data-testid="utilisation" {
            h2 { "Chair utilisation, " (d.period.0) " to " (d.period.1) }
            table {
                thead { tr { th { "Site" } th { "Chairs" } th { "Open chair-hours" } th { "Booked chair-hours (with recovery)" } th { "Use" } th { "Infusions booked" } th { "Attended" } th { "No-shows" } } }
                tbody {
                    @for u in &d.utilisation {
                        tr {
                            td { (u.site) } td { (u.chairs) }
                            td { (format!("{:.1}", minutes_f64(u.open_chair_minutes) / 60.0)) }
                            td { (format!("{:.1}", minutes_f64(u.booked_chair_minutes) / 60.0)) }
                            td { @if u.open_chair_minutes > 0 { (format!("{:.1} %", 100.0 * minutes_f64(u.booked_chair_minutes) / minutes_f64(u.open_chair_minutes))) } @else { "no opening hours set" } }
                            td { (u.infusions_booked) } td { (u.infusions_attended) } td { (u.no_shows) }
                        }
                    }
                }
            }
        }
    }
}

fn safety_section(d: &Dashboard) -> Markup {
    let row = |name: &str, o: &ProtocolOutcomes| {
        html! {
            tr { td { (name) } td { (o.infusions) } td { (o.adverse_events) } td { (o.severe_adverse_events) } td { (pct(o.adverse_per_100_infusions())) } td { (o.misuse_patients) " of " (o.patients) } td { (pct(o.misuse_per_100_patients())) } }
        }
    };
    html! {
        section.card #safety data-testid="safety" {
            h2 { "Safety" }
            table {
                thead { tr { th { "Protocol" } th { "Infusions" } th { "Adverse events" } th { "Severe or serious" } th { "Per 100 infusions" } th { "Confirmed ketamine misuse" } th { "Per 100 patients" } } }
                tbody {
                    @for p in &d.protocols { (row(&p.protocol_id, &p.outcomes)) }
                    (row("all", &d.overall))
                }
            }
        }
    }
}

macro_rules! csv_handler {
    ($name:ident, $file:literal, $body:expr) => {
        pub async fn $name<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Query(q): Query<FilterQuery>) -> Response {
            match app.clinic.program_dashboard(&principal, &q.input()).await {
                Ok(d) => csv_response($file, $body(&d)),
                Err(e) => failure(e),
            }
        }
    };
}

csv_handler!(outcomes_download, "outcomes.csv", outcomes_csv);
csv_handler!(km_download, "km.csv", |d: &Dashboard| km_csv(&d.protocols));
csv_handler!(funnel_download, "funnel.csv", |d: &Dashboard| funnel_csv(&d.funnel));
csv_handler!(utilisation_download, "utilisation.csv", utilisation_csv);
csv_handler!(safety_download, "safety.csv", safety_csv);

/// The cohort behind the curves, with the dashboard's filters: rows numbered,
/// not pseudonymous, so nothing links them to a patient (audited as an export).
pub async fn cohort_download<S: Store>(State(app): State<AppState<S>>, Extension(principal): Extension<Principal>, Query(q): Query<FilterQuery>) -> Response {
    match app.clinic.dashboard_cohort(&principal, &q.input()).await {
        Ok(rows) => csv_response("cohort.csv", clinic_service::relapse::unlinked_cohort_csv(&rows)),
        Err(e) => failure(e),
    }
}
