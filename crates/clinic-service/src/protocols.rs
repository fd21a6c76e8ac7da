//! Every protocol in `protocols/*.toml` (embedded, plus the clinic's override
//! directory), validated at load against the instruments in `instruments/`.
//! A clinic adds a protocol by dropping a file into its override directory:
//! no code change.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use anyhow::bail;
use chrono::NaiveDate;
use clinic_domain::protocol::decimal::Decimal;
use clinic_domain::protocol::{parse_protocol, EventDetail, PlannedEvent, Protocol};
use serde_json::{json, Map, Value};

use crate::data::DataFiles;

const PROTOCOLS_DIR: &str = "protocols";
const INSTRUMENTS_DIR: &str = "instruments";

#[derive(Debug, Clone)]
pub struct ProtocolRegistry {
    protocols: BTreeMap<String, Protocol>,
}

impl ProtocolRegistry {
    /// Loads and validates every protocol file. Any malformed file refuses
    /// the whole load; the error names each bad file, the place in it and the problem.
    pub fn load(files: &DataFiles) -> anyhow::Result<ProtocolRegistry> {
        let mut problems = Vec::new();
        let instrument_ids: BTreeSet<String> = files
            .list(INSTRUMENTS_DIR)?
            .iter()
            .filter_map(|path| path.strip_prefix("instruments/").and_then(|name| name.strip_suffix(".toml")))
            .filter(|stem| !stem.starts_with('.'))
            .map(str::to_string)
            .collect();
        let mut protocols = BTreeMap::new();
        for path in files.list(PROTOCOLS_DIR)? {
            let name = path.rsplit('/').next().unwrap_or(&path);
            if name.starts_with('.') {
                continue;
            }
            if !name.ends_with(".toml") {
                problems.push(format!("{path}: not a protocol file (protocol files end in .toml)"));
                continue;
            }
            let text = files.read_text(&path)?;
            match parse_protocol(&path, &text, &instrument_ids) {
                Ok(protocol) => {
                    if protocols.contains_key(protocol.id()) {
                        problems.push(format!("{path}: id: {:?} is used by another protocol file", protocol.id()));
                    } else {
                        protocols.insert(protocol.id().to_string(), protocol);
                    }
                }
                Err(err) => problems.push(err.to_string()),
            }
        }
        if !problems.is_empty() {
            bail!("{}", problems.join("; "));
        }
        Ok(ProtocolRegistry { protocols })
    }

    pub fn get(&self, id: &str) -> Option<&Protocol> {
        self.protocols.get(id)
    }

    /// Protocol ids, sorted.
    pub fn ids(&self) -> Vec<&str> {
        self.protocols.keys().map(String::as_str).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Protocol> {
        self.protocols.values()
    }
}

/// `ketaclinic protocol list` (DESIGN.md): `[{"id","title","substances","citation"}]`, sorted by id.
pub fn list_json(registry: &ProtocolRegistry) -> Value {
    Value::Array(
        registry
            .iter()
            .map(|protocol| {
                let def = protocol.definition();
                json!({ "id": def.id, "title": def.title, "substances": def.substances, "citation": def.citation })
            })
            .collect(),
    )
}

/// `ketaclinic protocol plan` (DESIGN.md): `{"protocol","events":[…]}`, each
/// event with `kind` and `date`, infusions with `dose_mg_per_kg`, `minutes`
/// and `phases` (the totals and their parts). It adds `needs_clinic_setting`:
/// the facts the reference lacks, each `{field, reason}`.
pub fn plan_json(protocol: &Protocol, events: &[PlannedEvent]) -> Value {
    let events: Vec<Value> = events.iter().map(event_json).collect();
    let unset: Vec<Value> = protocol.unset().iter().map(|u| json!({ "field": u.field, "reason": u.reason })).collect();
    json!({ "protocol": protocol.id(), "events": events, "needs_clinic_setting": unset })
}

fn event_json(event: &PlannedEvent) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!(event.kind.as_str()));
    out.insert("date".into(), json!(date_text(event.date)));
    match &event.detail {
        EventDetail::None => {}
        EventDetail::Infusion(infusion) => {
            out.insert("number".into(), json!(infusion.number));
            out.insert("dose_mg_per_kg".into(), decimal_json(infusion.dose_mg_per_kg));
            out.insert("minutes".into(), json!(infusion.minutes));
            let phases: Vec<Value> = infusion
                .phases
                .iter()
                .map(|p| json!({ "dose_mg_per_kg": decimal_json(p.dose_mg_per_kg), "minutes": p.minutes }))
                .collect();
            out.insert("phases".into(), Value::Array(phases));
            if let Some((earliest, latest)) = infusion.window {
                out.insert("window".into(), json!({ "earliest": date_text(earliest), "latest": date_text(latest) }));
            }
        }
        EventDetail::Therapy { modality } => {
            out.insert("modality".into(), json!(modality));
        }
        EventDetail::Assessment { instrument } => {
            out.insert("instrument".into(), json!(instrument));
        }
    }
    Value::Object(out)
}

fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// An exact decimal as a JSON number in its shortest form (0.71, 0.6, 40).
fn decimal_json(value: Decimal) -> Value {
    let text = value.to_string();
    match serde_json::Number::from_str(&text) {
        Ok(number) => Value::Number(number),
        Err(_) => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clinic_domain::protocol::{plan, EventKind};

    use super::*;

    fn override_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ketaclinic-protocols-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("protocols")).unwrap();
        dir
    }

    /// A clinic's own protocol, as a clinic would write it (its numbers are
    /// test values, not a treatment).
    const CLINIC_PAIR: &str = r#"
id = "clinic-pair"
version = 1
title = "Clinic pair"
substances = ["cocaine"]
trial_protocol = false
citation = "Clinic protocol, reviewed by the medical director"
reference = "clinic"
course_days = 14

[infusions]
count = 2
dose_mg_per_kg = 0.5
minutes = 40
phases = [{ dose_mg_per_kg = 0.5, minutes = 40 }]
max_mg = 60
min_spacing_days = 7
max_spacing_days = 7
schedule = [{ day = 0 }, { day = 7 }]
source = "clinic"

[integration]
sessions = 2
days_after_each_infusion = 1
session_minutes = 60
source = "clinic"

[[assessments]]
instrument = "ccq-brief"
relative_to = "each_infusion"
offset_hours = 24
purpose = "craving"
source = "clinic"

[outcomes]
relapse_definition = "first cocaine use"
dropout_is_relapse = true
index_date = "first_infusion"
source = "clinic"

[follow_up]
days = 30
anchor = "last_infusion"
source = "clinic"
"#;

    #[test]
    fn the_shipped_protocols_load() {
        let registry = ProtocolRegistry::load(&DataFiles::embedded()).unwrap();
        assert_eq!(
            registry.ids(),
            [
                "alcohol-kare-grabski2022",
                "alcohol-met-dakwar2020",
                "clinic-series-6",
                "cocaine-mbrp-dakwar2019",
                "opioid-clinic-moud-example"
            ]
        );
        let list = list_json(&registry);
        assert_eq!(
            list[0],
            json!({ "id": "alcohol-kare-grabski2022", "title": registry.get("alcohol-kare-grabski2022").unwrap().definition().title, "substances": ["alcohol"], "citation": registry.get("alcohol-kare-grabski2022").unwrap().definition().citation })
        );
    }

    #[test]
    fn protocols_a_clinic_adds_one_by_dropping_a_file() {
        let dir = override_dir();
        std::fs::write(dir.join("protocols/clinic-pair.toml"), CLINIC_PAIR).unwrap();
        std::fs::write(dir.join("protocols/.DS_Store"), "finder junk").unwrap();
        let registry = ProtocolRegistry::load(&DataFiles::with_override_dir(dir)).unwrap();
        assert_eq!(registry.ids().len(), 6);
        let protocol = registry.get("clinic-pair").unwrap();
        let start = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
        let events = plan(protocol, start).unwrap();
        let kinds: Vec<(String, &str)> = events.iter().map(|e| (date_text(e.date), e.kind.as_str())).collect();
        assert_eq!(
            kinds,
            [
                ("2025-01-06".to_string(), "infusion"),
                ("2025-01-07".to_string(), "integration"),
                ("2025-01-07".to_string(), "assessment"),
                ("2025-01-13".to_string(), "infusion"),
                ("2025-01-14".to_string(), "integration"),
                ("2025-01-14".to_string(), "assessment"),
                ("2025-02-12".to_string(), "follow_up"),
            ]
        );
        let out = plan_json(protocol, &events);
        assert_eq!(out["protocol"], "clinic-pair");
        assert_eq!(
            out["events"][0],
            json!({ "kind": "infusion", "date": "2025-01-06", "number": 1, "dose_mg_per_kg": 0.5, "minutes": 40, "phases": [{ "dose_mg_per_kg": 0.5, "minutes": 40 }] })
        );
        assert_eq!(out["needs_clinic_setting"], json!([]));
        assert_eq!(events.iter().filter(|e| e.kind == EventKind::Infusion).count(), 2);
    }

    #[test]
    fn protocols_an_override_replaces_a_shipped_file() {
        let dir = override_dir();
        // A clinic that sets its own cap: max_mg set, its unset entry removed.
        let text = DataFiles::embedded().read_text("protocols/clinic-series-6.toml").unwrap();
        let unset_entry = "[[unset]]\nfield = \"infusions.max_mg\"\nreason = \"needs clinic setting: the reference names no maximum dose for psychiatric use (clinical.md §2.1)\"\n";
        assert!(text.contains(unset_entry));
        let text = text.replacen(unset_entry, "", 1).replacen("minutes = 40\n", "minutes = 40\nmax_mg = 60\n", 1);
        std::fs::write(dir.join("protocols/clinic-series-6.toml"), text).unwrap();
        let registry = ProtocolRegistry::load(&DataFiles::with_override_dir(dir)).unwrap();
        assert_eq!(registry.ids().len(), 5);
        let max_mg = registry.get("clinic-series-6").unwrap().definition().infusions.max_mg.unwrap();
        assert_eq!(max_mg.to_string(), "60");
    }

    #[test]
    fn protocols_a_malformed_file_refuses_the_load_naming_the_file() {
        let dir = override_dir();
        std::fs::write(
            dir.join("protocols/clinic-pair.toml"),
            CLINIC_PAIR.replace("{ day = 7 }", "{ day = 5 }").replace("instrument = \"ccq-brief\"", "instrument = \"ccq\""),
        )
        .unwrap();
        std::fs::write(dir.join("protocols/notes.txt"), "hello").unwrap();
        let err = ProtocolRegistry::load(&DataFiles::with_override_dir(dir)).unwrap_err().to_string();
        assert!(
            err.contains("protocols/clinic-pair.toml: infusions.schedule[2].day: day 5 is 5 days after the previous infusion (day 0); min_spacing_days is 7"),
            "{err}"
        );
        assert!(err.contains("assessments[1].instrument: \"ccq\" is not an instrument in data/instruments"), "{err}");
        assert!(err.contains("protocols/notes.txt: not a protocol file"), "{err}");
    }
}
