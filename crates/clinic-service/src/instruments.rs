//! Every instrument in `instruments/*.toml` (embedded, plus the clinic's
//! override directory), validated at load, with its wording from
//! `instruments/wording/<id>.toml` where one is installed. A clinic adds an
//! instrument by dropping a file into its override directory: no code change.

use std::collections::BTreeMap;

use anyhow::bail;
use clinic_domain::instrument::wording::{parse_wording, Wording};
use clinic_domain::instrument::{parse_definition, Instrument};

use crate::data::DataFiles;

const DEFINITIONS_DIR: &str = "instruments";
const WORDING_DIR: &str = "instruments/wording";

/// An instrument and, when installed, the wording its forms show.
#[derive(Debug, Clone)]
pub struct LoadedInstrument {
    pub instrument: Instrument,
    /// `None` until a wording file is installed: forms then show item numbers.
    pub wording: Option<Wording>,
}

#[derive(Debug, Clone)]
pub struct InstrumentRegistry {
    instruments: BTreeMap<String, LoadedInstrument>,
}

impl InstrumentRegistry {
    /// Loads and validates every instrument and wording file. Any malformed
    /// file refuses the whole load; the error names each bad file, the place
    /// in it and the problem.
    pub fn load(files: &DataFiles) -> anyhow::Result<InstrumentRegistry> {
        let mut problems = Vec::new();
        let mut instruments = BTreeMap::new();
        for path in instrument_files(files, DEFINITIONS_DIR, &mut problems)? {
            let text = files.read_text(&path)?;
            match parse_definition(&path, &text) {
                Ok(instrument) => {
                    instruments.insert(
                        instrument.id().to_string(),
                        LoadedInstrument {
                            instrument,
                            wording: None,
                        },
                    );
                }
                Err(err) => problems.push(err.to_string()),
            }
        }
        for path in instrument_files(files, WORDING_DIR, &mut problems)? {
            let id = path
                .trim_start_matches("instruments/wording/")
                .trim_end_matches(".toml");
            let Some(loaded) = instruments.get_mut(id) else {
                problems.push(format!("{path}: there is no instrument {id:?} (instruments/{id}.toml) for this wording"));
                continue;
            };
            let text = files.read_text(&path)?;
            match parse_wording(&path, &text, &loaded.instrument) {
                Ok(wording) => loaded.wording = Some(wording),
                Err(err) => problems.push(err.to_string()),
            }
        }
        // The crisis path depends on this flag: a clinic's own PHQ-9 file must
        // keep it (PHQ-9 item 9 above 0; clinical.md §3.2, §11.3).
        if let Some(phq9) = instruments.get("phq-9") {
            let keeps_rule = phq9.instrument.definition().flags.iter().any(|f| {
                f.id == "suicide_risk"
                    && matches!(f.when, clinic_domain::instrument::definition::Condition::ItemAtLeast { item: 9, points: 1 })
            });
            if !keeps_rule {
                problems.push("instruments/phq-9.toml: flags: must keep suicide_risk when item 9 scores at least 1 (the crisis path depends on it)".into());
            }
        }
        if !problems.is_empty() {
            bail!("{}", problems.join("; "));
        }
        Ok(InstrumentRegistry { instruments })
    }

    pub fn get(&self, id: &str) -> Option<&LoadedInstrument> {
        self.instruments.get(id)
    }

    /// Instrument ids, sorted.
    pub fn ids(&self) -> Vec<&str> {
        self.instruments.keys().map(String::as_str).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &LoadedInstrument> {
        self.instruments.values()
    }
}

/// The `.toml` files directly in `dir`. Hidden files (`.DS_Store`) are
/// skipped; any other file is refused, so a misnamed instrument file is not
/// silently left out.
fn instrument_files(
    files: &DataFiles,
    dir: &str,
    problems: &mut Vec<String>,
) -> anyhow::Result<Vec<String>> {
    let mut paths = Vec::new();
    for path in files.list(dir)? {
        let name = path.rsplit('/').next().unwrap_or(&path);
        if name.starts_with('.') {
            continue;
        }
        if name.ends_with(".toml") {
            paths.push(path);
        } else {
            problems.push(format!(
                "{path}: not an instrument file (instrument files end in .toml)"
            ));
        }
    }
    Ok(paths)
}

/// A score as JSON, in the shape of DESIGN.md's `ketaclinic score`:
/// `instrument`, `total`, `band`, `flags`, `items`, `subscales`, then what
/// some instruments add (`rules`, `substance`, `unscored`).
pub fn score_json(loaded: &LoadedInstrument, scored: &clinic_domain::instrument::score::Score) -> serde_json::Value {
    use clinic_domain::instrument::definition::AnswerValue;
    use serde_json::{json, Map, Value};
    let definition = loaded.instrument.definition();
    let mut out = Map::new();
    out.insert("instrument".into(), json!(scored.instrument));
    out.insert("total".into(), json!(scored.total));
    out.insert("band".into(), json!(scored.band));
    out.insert("flags".into(), json!(scored.flags.iter().map(|f| f.id.as_str()).collect::<Vec<_>>()));
    out.insert("items".into(), json!(scored.items));
    out.insert("subscales".into(), Value::Object(scored.subscales.iter().map(|(id, points)| (id.clone(), json!(points))).collect()));
    if !definition.rules.is_empty() {
        out.insert("rules".into(), Value::Object(scored.rules.iter().map(|(id, holds)| (id.clone(), json!(holds))).collect()));
    }
    if definition.per_substance {
        out.insert("substance".into(), json!(scored.substance.map(clinic_domain::patient::Substance::as_str)));
    }
    if !loaded.instrument.unscored_items().is_empty() {
        let unscored = scored
            .unscored
            .iter()
            .map(|(key, answer)| {
                let value = match answer {
                    AnswerValue::Number(n) => json!(n),
                    AnswerValue::Word(w) => json!(w),
                };
                (key.clone(), value)
            })
            .collect();
        out.insert("unscored".into(), Value::Object(unscored));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use clinic_domain::instrument::definition::ItemWording;
    use clinic_domain::instrument::score::{score, ScoreContext};
    use clinic_domain::instrument::wording::item_label;

    use super::*;

    fn override_dir() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ketaclinic-instruments-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("instruments/wording")).unwrap();
        dir
    }

    fn no_context() -> ScoreContext {
        ScoreContext {
            sex: None,
            substance: None,
            unscored: BTreeMap::new(),
        }
    }

    /// A clinic's own instrument, as a clinic would write it.
    const SLEEP_CHECK: &str = r#"
id = "sleep-check"
version = 1
title = "Clinic sleep check"
purpose = "Sleep since the last visit"
citation = "Clinic-defined; reviewed by the medical director"
licence = "Ours"
item_wording = "shipped"
recall = "past week"
rater = "self"
reference = "clinic protocol"
items = [
  { number = 1, options = "zero_to_two" },
  { number = 2, options = "zero_to_two" },
]
[option_sets]
zero_to_two = [{ answer = 0, points = 0 }, { answer = 1, points = 1 }, { answer = 2, points = 2 }]
[scoring]
total = "sum"
range = [0, 4]
source = "clinic protocol"
[[bands]]
name = "settled"
min = 0
max = 1
source = "clinic protocol"
[[bands]]
name = "unsettled"
min = 2
max = 4
source = "clinic protocol"
"#;

    #[test]
    fn the_embedded_instruments_load_with_wording_only_where_it_ships() {
        let registry = InstrumentRegistry::load(&DataFiles::embedded()).unwrap();
        for id in [
            "audit", "audit-c", "dast-10", "phq-9", "gad-7", "pcl-5", "dsm5-sud", "ciwa-ar",
        ] {
            assert!(registry.get(id).is_some(), "{id}");
        }
        assert_eq!(registry.ids().len(), 14, "{:?}", registry.ids());
        for loaded in registry.iter() {
            let shipped = loaded.instrument.definition().item_wording == ItemWording::Shipped;
            assert_eq!(
                loaded.wording.is_some(),
                shipped,
                "{}: wording ships only where the licence allows",
                loaded.instrument.id()
            );
        }
        let phq9 = registry.get("phq-9").unwrap();
        assert_eq!(
            item_label(phq9.wording.as_ref(), 9),
            "Thoughts that you would be better off dead or of hurting yourself in some way"
        );
        let dast = registry.get("dast-10").unwrap();
        assert_eq!(item_label(dast.wording.as_ref(), 3), "Item 3");
    }

    #[test]
    fn a_clinic_adds_an_instrument_by_dropping_a_file() {
        let dir = override_dir();
        std::fs::write(dir.join("instruments/sleep-check.toml"), SLEEP_CHECK).unwrap();
        std::fs::write(dir.join("instruments/.DS_Store"), "finder junk").unwrap();
        let registry = InstrumentRegistry::load(&DataFiles::with_override_dir(dir)).unwrap();
        assert_eq!(registry.ids().len(), 15);
        let sleep = &registry.get("sleep-check").unwrap().instrument;
        let s = score(sleep, &["1", "2"], &no_context()).unwrap();
        assert_eq!((s.total, s.band.as_deref()), (Some(3), Some("unsettled")));
    }

    #[test]
    fn an_override_replaces_the_embedded_file_and_installs_licensed_wording() {
        let dir = override_dir();
        // The alternative CIWA-Ar bands some services use (clinical.md §11.1): ≤ 9 / 10-18 / ≥ 19.
        let ciwa = DataFiles::embedded()
            .read_text("instruments/ciwa-ar.toml")
            .unwrap();
        let ciwa = ciwa
            .replacen("max = 7\n", "max = 9\n", 1)
            .replacen("min = 8\nmax = 15", "min = 10\nmax = 18", 1)
            .replacen("min = 16\n", "min = 19\n", 1);
        std::fs::write(dir.join("instruments/ciwa-ar.toml"), ciwa).unwrap();
        let wording = "instrument = \"dast-10\"\nlicence = \"Permission from CAMH, 2025\"\nsource = \"CAMH\"\n[[items]]\nnumber = 3\ntext = \"Licensed item three\"\n";
        std::fs::write(dir.join("instruments/wording/dast-10.toml"), wording).unwrap();
        let registry = InstrumentRegistry::load(&DataFiles::with_override_dir(dir)).unwrap();
        let ciwa = &registry.get("ciwa-ar").unwrap().instrument;
        let s = score(
            ciwa,
            &["7", "2", "0", "0", "0", "0", "0", "0", "0", "0"],
            &no_context(),
        )
        .unwrap();
        assert_eq!((s.total, s.band.as_deref()), (Some(9), Some("minimal")));
        let embedded = InstrumentRegistry::load(&DataFiles::embedded()).unwrap();
        let s = score(
            &embedded.get("ciwa-ar").unwrap().instrument,
            &["7", "2", "0", "0", "0", "0", "0", "0", "0", "0"],
            &no_context(),
        )
        .unwrap();
        assert_eq!(s.band.as_deref(), Some("moderate"));
        let dast = registry.get("dast-10").unwrap();
        assert_eq!(item_label(dast.wording.as_ref(), 3), "Licensed item three");
        assert_eq!(item_label(dast.wording.as_ref(), 4), "Item 4");
    }

    #[test]
    fn a_malformed_file_refuses_the_load_naming_the_file() {
        let dir = override_dir();
        std::fs::write(
            dir.join("instruments/sleep-check.toml"),
            SLEEP_CHECK.replace("min = 2", "min = 3"),
        )
        .unwrap();
        std::fs::write(
            dir.join("instruments/wording/no-such.toml"),
            "instrument = \"no-such\"",
        )
        .unwrap();
        std::fs::write(dir.join("instruments/notes.txt"), "hello").unwrap();
        let err = InstrumentRegistry::load(&DataFiles::with_override_dir(dir))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("instruments/notes.txt: not an instrument file"),
            "{err}"
        );
        assert!(err.contains("instruments/sleep-check.toml: bands: gap between settled (0–1) and unsettled (3–4)"), "{err}");
        assert!(
            err.contains("instruments/wording/no-such.toml: there is no instrument \"no-such\""),
            "{err}"
        );
    }

    #[test]
    fn wording_that_does_not_fit_its_instrument_is_refused() {
        let dir = override_dir();
        std::fs::write(dir.join("instruments/wording/gad-7.toml"), "instrument = \"gad-7\"\nlicence = \"PD\"\nsource = \"x\"\n[[items]]\nnumber = 8\ntext = \"Extra\"\n").unwrap();
        let err = InstrumentRegistry::load(&DataFiles::with_override_dir(dir))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "instruments/wording/gad-7.toml: item 8: does not exist in the instrument"
        );
    }

    #[test]
    fn a_clinic_phq9_without_the_item_9_rule_is_refused() {
        let dir = override_dir();
        let embedded = DataFiles::embedded().read_text("instruments/phq-9.toml").unwrap();
        // The same file with the suicide_risk flag's condition weakened to item 9 >= 2.
        let weakened = embedded.replace("when = { kind = \"item_at_least\", item = 9, points = 1 }", "when = { kind = \"item_at_least\", item = 9, points = 2 }");
        assert_ne!(weakened, embedded, "the test edits the rule");
        std::fs::write(dir.join("instruments/phq-9.toml"), weakened).unwrap();
        let err = InstrumentRegistry::load(&DataFiles::with_override_dir(dir.clone())).unwrap_err().to_string();
        assert!(err.contains("instruments/phq-9.toml") && err.contains("suicide_risk"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
