//! The predicted plasma concentration of an order, drawn as SVG: the typical
//! curve of the Domino model (clinical.md §5.1) with a band for 90 % of a
//! simulated population, against the concentration–effect ranges of §5.2.
//! Labelled everywhere as an approximate model prediction, never a target:
//! the reference notes the model over-predicts the observed 0.5 mg/kg peak
//! by about 30 % and falls faster after the infusion than observed.

use clinic_pk::params::Model;
use clinic_pk::population::{sample_subjects, simulate_population};
use clinic_pk::regimen::{Phase, Regimen};
use clinic_pk::simulate::simulate;
use maud::{Markup, html};

/// Between-subject variability for the band: the `pk simulate` default (DESIGN.md).
const CV: f64 = 0.3;
/// Simulated subjects and the fixed seed (the same order always draws the same band).
const SUBJECTS: usize = 500;
const SEED: u64 = 20_261_127;

/// §5.2 ranges drawn as bands: (label, low, high).
const RANGES: [(&str, f64, f64); 2] = [
    (
        "Dissociative effects rise with concentration, 50–200 ng/mL (Bowdle 1998)",
        50.0,
        200.0,
    ),
    (
        "Dissociation during 0.5 mg/kg over 40 min, 100–250 ng/mL (Krystal 1994)",
        100.0,
        250.0,
    ),
];

pub struct Prediction {
    pub times: Vec<f64>,
    pub typical: Vec<f64>,
    pub p5: Vec<f64>,
    pub p95: Vec<f64>,
    pub peak: (f64, f64),
    pub end_of_infusion: f64,
}

/// Predicts the order's curve for `weight_kg`, phases as (mg/kg, minutes).
pub fn predict(weight_kg: f64, phases: &[(f64, f64)]) -> Option<Prediction> {
    let total: f64 = phases.iter().map(|p| p.1).sum();
    let regimen = Regimen::new(
        phases
            .iter()
            .map(|(d, m)| Phase {
                dose_mg_per_kg: *d,
                minutes: *m,
            })
            .collect(),
    )
    .ok()?;
    let end = (total + 120.0).min(480.0);
    // A point a minute, from 0 to the end.
    let mut times = Vec::new();
    let mut t = 0.0;
    while t <= end.ceil() {
        times.push(t);
        t += 1.0;
    }
    let typical_params = Model::Domino.params();
    let curve = simulate(&typical_params, &regimen, weight_kg, &times).ok()?;
    let subjects = sample_subjects(&typical_params, SUBJECTS, SEED, CV).ok()?;
    let population = simulate_population(&subjects, &regimen, weight_kg, &times).ok()?;
    let end_index = times
        .iter()
        .position(|t| *t >= total)
        .unwrap_or(times.len() - 1);
    Some(Prediction {
        p5: population
            .conc_percentiles_ng_ml
            .iter()
            .map(|p| p.p5)
            .collect(),
        p95: population
            .conc_percentiles_ng_ml
            .iter()
            .map(|p| p.p95)
            .collect(),
        peak: (curve.cmax_ng_ml, curve.tmax_min),
        end_of_infusion: curve.conc_ng_ml[end_index],
        typical: curve.conc_ng_ml,
        times,
    })
}

pub fn chart(p: &Prediction) -> Markup {
    let (w, h, left, bottom, top) = (720.0_f64, 320.0_f64, 56.0_f64, 36.0_f64, 12.0_f64);
    let max_t = p.times.last().copied().unwrap_or(60.0).max(1.0);
    let max_c = p
        .p95
        .iter()
        .chain(p.typical.iter())
        .fold(260.0_f64, |m, c| m.max(*c))
        * 1.08;
    let x = |t: f64| left + t / max_t * (w - left - 10.0);
    let y = |c: f64| top + (1.0 - c / max_c) * (h - top - bottom);
    let path = |values: &[f64]| -> String {
        values
            .iter()
            .zip(&p.times)
            .enumerate()
            .map(|(i, (c, t))| {
                format!(
                    "{}{:.1},{:.1}",
                    if i == 0 { "M" } else { "L" },
                    x(*t),
                    y(*c)
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let band = {
        let upper: Vec<String> = p
            .p95
            .iter()
            .zip(&p.times)
            .map(|(c, t)| format!("{:.1},{:.1}", x(*t), y(*c)))
            .collect();
        let lower: Vec<String> =
            p.p5.iter()
                .zip(&p.times)
                .rev()
                .map(|(c, t)| format!("{:.1},{:.1}", x(*t), y(*c)))
                .collect();
        format!("M{} L{} Z", upper.join(" L"), lower.join(" L"))
    };
    let step_c = if max_c > 1200.0 {
        400.0
    } else if max_c > 600.0 {
        200.0
    } else {
        100.0
    };
    let step_t = if max_t > 240.0 { 60.0 } else { 30.0 };
    let ticks = |max: f64, step: f64| {
        let mut out = Vec::new();
        let mut v = 0.0;
        while v <= max {
            out.push(v);
            v += step;
        }
        out
    };
    let c_ticks = ticks(max_c, step_c);
    let t_ticks = ticks(max_t, step_t);
    html! {
        figure.pk-chart {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (w) " " (h) } role="img" aria-labelledby="pk-title pk-desc" data-testid="pk-chart" {
                title id="pk-title" { "Predicted plasma ketamine concentration (approximate model prediction, not a target)" }
                desc id="pk-desc" { "Typical curve of the Domino model with the range of 90% of simulated patients, against published concentration–effect ranges." }
                @for (i, (label, lo, hi)) in RANGES.iter().enumerate() {
                    rect class={ "range range-" (i) } x=(left) width=(w - left - 10.0) y=(y(hi.min(max_c))) height=((y(*lo) - y(hi.min(max_c))).max(0.0)) {
                        title { (label) }
                    }
                }
                @for c in &c_ticks {
                    line.grid x1=(left) x2=(w - 10.0) y1=(y(*c)) y2=(y(*c)) {}
                    text.axis x=(left - 6.0) y=(y(*c) + 4.0) text-anchor="end" { (format!("{c:.0}")) }
                }
                @for t in &t_ticks {
                    text.axis x=(x(*t)) y=(h - bottom + 16.0) text-anchor="middle" { (format!("{t:.0}")) }
                }
                text.axis x=(left + (w - left) / 2.0) y=(h - 4.0) text-anchor="middle" { "minutes from the start" }
                text.axis x="12" y=(top + (h - top - bottom) / 2.0) transform={ "rotate(-90 12 " (top + (h - top - bottom) / 2.0) ")" } text-anchor="middle" { "ng/mL" }
                path.band d=(band) {}
                path.typical d=(path(&p.typical)) {}
            }
            figcaption {
                strong { "Approximate model prediction, not a target. " }
                "Line: typical patient (Domino 1982 three-compartment model, clinical.md §5.1); shaded: 90% of "
                (SUBJECTS) " simulated patients (30% variability). The model over-predicts the observed peak of 0.5 mg/kg over 40 min by about 30% and falls faster afterwards than observed. "
                "Bands: " (RANGES.iter().map(|r| r.0).collect::<Vec<_>>().join("; ")) " (clinical.md §5.2)."
            }
            table.compact {
                caption { "The prediction in numbers" }
                tr { th { "Typical peak" } td { (format!("{:.0} ng/mL at {:.0} min", p.peak.0, p.peak.1)) } }
                tr { th { "At the end of the infusion" } td { (format!("{:.0} ng/mL", p.end_of_infusion)) } }
                @let hi = p.p95.iter().fold(0.0_f64, |hi, b| hi.max(*b));
                tr { th { "Highest of the 90% band" } td { (format!("{hi:.0} ng/mL")) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clinical.md §5.1 sanity check: 0.5 mg/kg over 40 min peaks near 240 ng/mL at 40 min (Domino).
    #[test]
    fn the_standard_infusion_peaks_as_the_reference_says() {
        let p = predict(70.0, &[(0.5, 40.0)]).unwrap();
        assert!((p.peak.0 - 240.0).abs() < 15.0, "{}", p.peak.0);
        assert!((p.peak.1 - 40.0).abs() < 1.0, "{}", p.peak.1);
        assert!(p.p5.iter().zip(&p.p95).all(|(a, b)| a <= b));
        let svg = chart(&p).into_string();
        assert!(svg.contains("not a target"));
        assert!(svg.contains("data-testid=\"pk-chart\""));
    }
}
