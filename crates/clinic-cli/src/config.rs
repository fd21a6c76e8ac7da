//! The typed configuration: defaults, then `ketaclinic.toml`, then
//! `KETACLINIC_*` environment variables (`__` for nesting), then flags.

use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileConfig {
    /// `sqlite://PATH` or `postgres://…`. `DATABASE_URL` also sets it.
    pub database_url: Option<String>,
    /// Where `serve` listens.
    pub bind: String,
    /// Override directory for `data/` files.
    pub data_dir: Option<PathBuf>,
    /// Mark cookies Secure even without `X-Forwarded-Proto: https`.
    pub force_secure_cookies: bool,
    /// `pretty` or `json`.
    pub log_format: String,
    /// The clinic's first site, created at the first `serve` (later changes
    /// are made in the application).
    pub site: SiteConfig,
    /// Alert routing, crisis resources and portal links.
    pub safety: SafetyConfig,
    /// Session lengths and the time whole-plan scheduling tries first.
    pub scheduling: SchedulingConfig,
    /// Dosing weight basis and the pump and syringe steps orders are rounded to.
    pub orders: OrdersConfig,
    /// The controlled-substance ledger: the in-use period of opened vials.
    pub ledger: LedgerConfig,
    /// Relapse settings per protocol id, where the protocol leaves them open.
    pub relapse: std::collections::BTreeMap<String, RelapseConfig>,
    /// The patient's daily diary: when its reminder goes out.
    pub diary: DiaryConfig,
}

/// The daily diary reminder. The reference gives no time of day for it, so
/// it ships unset ("needs clinic setting"): no reminder is sent, and the
/// server logs that they are off, until the clinic sets one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiaryConfig {
    /// `HH:MM`, site time: from then on each day, patients in treatment with
    /// no diary entry for the day before are reminded once.
    pub reminder_time: Option<String>,
}

impl DiaryConfig {
    pub fn settings(&self) -> Result<clinic_service::outcomes::DiarySettings, String> {
        let reminder_time = match &self.reminder_time {
            None => None,
            Some(text) => Some(chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| format!("diary.reminder_time: {text:?} is not a time as HH:MM"))?),
        };
        Ok(clinic_service::outcomes::DiarySettings { reminder_time })
    }
}

/// The clinic's relapse settings for one protocol (`[relapse."PROTOCOL-ID"]`).
/// The reference gives most protocols no structured definition, no index
/// date and no end of follow-up (clinical.md §4.2, §4.4, §9): until set,
/// time to relapse is refused naming what is missing. A value the protocol
/// file already sets cannot be changed here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelapseConfig {
    /// Any one meets a relapse: `self_reported_use`, `unexplained_positive_test`,
    /// `heavy_drinking_day` (NIAAA) or `heavy_drinking_day_dakwar_2020`, `consecutive_use_days:N`.
    pub triggers: Option<Vec<String>>,
    pub dropout_is_relapse: Option<bool>,
    /// `start`, `first_infusion`, `last_infusion`, `inpatient_discharge` or `course_end`.
    pub index_date: Option<String>,
    /// `course_end`, `protocol_follow_up` or `days_after_index:N`.
    pub follow_up_end: Option<String>,
    /// Who decided and when, kept as the source (e.g. "medical director, 2026-11-01").
    pub set_by: Option<String>,
}

impl RelapseConfig {
    pub fn settings(&self, protocol: &str) -> Result<clinic_domain::outcome::relapse::ClinicRelapseSettings, String> {
        use clinic_domain::outcome::measure::HeavyDrinkingRule;
        use clinic_domain::outcome::relapse::{ClinicRelapseSettings, FollowUpEnd, RelapseTrigger};
        use clinic_domain::protocol::definition::IndexDate;
        let at = |field: &str| format!("relapse.{protocol}.{field}");
        let count = |field: &str, t: &str| -> Result<u32, String> {
            t.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| format!("{}: {t:?} is not a whole number from 1", at(field)))
        };
        let triggers = match &self.triggers {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|t| match t.trim() {
                        "self_reported_use" => Ok(RelapseTrigger::SelfReportedUse),
                        "unexplained_positive_test" => Ok(RelapseTrigger::UnexplainedPositiveTest),
                        "heavy_drinking_day" => Ok(RelapseTrigger::HeavyDrinkingDay(HeavyDrinkingRule::niaaa())),
                        "heavy_drinking_day_dakwar_2020" => Ok(RelapseTrigger::HeavyDrinkingDay(HeavyDrinkingRule::dakwar_2020())),
                        other => match other.strip_prefix("consecutive_use_days:") {
                            Some(n) => count("triggers", n).and_then(|n| std::num::NonZeroU32::new(n).map(RelapseTrigger::ConsecutiveUseDays).ok_or_else(|| at("triggers"))),
                            None => Err(format!(
                                "{}: {other:?} is not one of self_reported_use, unexplained_positive_test, heavy_drinking_day, heavy_drinking_day_dakwar_2020, consecutive_use_days:N",
                                at("triggers")
                            )),
                        },
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let index_date = match self.index_date.as_deref().map(str::trim) {
            None => None,
            Some("start") => Some(IndexDate::Start),
            Some("first_infusion") => Some(IndexDate::FirstInfusion),
            Some("last_infusion") => Some(IndexDate::LastInfusion),
            Some("inpatient_discharge") => Some(IndexDate::InpatientDischarge),
            Some("course_end") => Some(IndexDate::CourseEnd),
            Some(other) => return Err(format!("{}: {other:?} is not one of start, first_infusion, last_infusion, inpatient_discharge, course_end", at("index_date"))),
        };
        let follow_up_end = match self.follow_up_end.as_deref().map(str::trim) {
            None => None,
            Some("course_end") => Some(FollowUpEnd::CourseEnd),
            Some("protocol_follow_up") => Some(FollowUpEnd::ProtocolFollowUp),
            Some(other) => match other.strip_prefix("days_after_index:") {
                Some(n) => Some(FollowUpEnd::DaysAfterIndex(count("follow_up_end", n)?)),
                None => return Err(format!("{}: {other:?} is not one of course_end, protocol_follow_up, days_after_index:N", at("follow_up_end"))),
            },
        };
        Ok(ClinicRelapseSettings {
            triggers,
            dropout_is_relapse: self.dropout_is_relapse,
            index_date,
            follow_up_end,
            set_by: self.set_by.clone().unwrap_or_else(|| "ketaclinic.toml".into()),
        })
    }
}

/// Every protocol's relapse settings from the configuration.
pub fn relapse_settings(config: &FileConfig) -> Result<Vec<(String, clinic_domain::outcome::relapse::ClinicRelapseSettings)>, String> {
    config.relapse.iter().map(|(id, r)| r.settings(id).map(|s| (id.clone(), s))).collect()
}

/// Ledger settings. Opened multi-dose vials are discarded 28 days after the
/// first puncture by default, "commonly … unless the maker says otherwise"
/// (clinical.md §6, UNVERIFIED CDC/USP practice): a documented default the
/// medical director confirms. `0` means the day of opening only.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerConfig {
    pub discard_after_opening_days: Option<i64>,
}

impl LedgerConfig {
    pub fn settings(&self) -> Result<clinic_domain::ledger::LedgerSettings, String> {
        let mut settings = clinic_domain::ledger::LedgerSettings::shipped();
        if let Some(days) = self.discard_after_opening_days {
            if days < 0 {
                return Err(format!("ledger.discard_after_opening_days: must be 0 or more days, got {days}"));
            }
            settings.discard_after_opening_days = Some(days);
        }
        Ok(settings)
    }
}

/// Infusion order settings. The weight basis defaults to body weight, as the
/// trials dosed (clinical.md §2.1: adjusted weight is a clinic policy). The
/// pump and syringe steps ship unset ("needs clinic setting"): orders then
/// show exact figures only.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrdersConfig {
    /// `actual` or `adjusted`.
    pub weight_basis: Option<String>,
    /// The pump's smallest rate step in mL/h, e.g. `"0.1"`.
    pub pump_step_ml_per_h: Option<String>,
    /// The syringe graduation used to draw the stock, in mL, e.g. `"0.1"`.
    pub syringe_step_ml: Option<String>,
}

impl OrdersConfig {
    pub fn settings(&self) -> Result<clinic_domain::order::OrderSettings, String> {
        let mut settings = clinic_domain::order::OrderSettings::shipped();
        if let Some(basis) = &self.weight_basis {
            settings.weight_basis = clinic_domain::order::WeightBasis::parse(basis).map_err(|e| format!("orders.{}: {}", e.field, e.message))?;
        }
        let step = |name: &str, text: &Option<String>| -> Result<Option<clinic_domain::dose::Exact>, String> {
            match text {
                None => Ok(None),
                Some(t) => match clinic_domain::dose::Exact::parse(t) {
                    Some(v) if v.is_positive() => Ok(Some(v)),
                    _ => Err(format!("orders.{name}: {t:?} is not a positive number with at most 4 decimals")),
                },
            }
        };
        settings.pump_step_ml_per_h = step("pump_step_ml_per_h", &self.pump_step_ml_per_h)?;
        settings.syringe_step_ml = step("syringe_step_ml", &self.syringe_step_ml)?;
        Ok(settings)
    }
}

/// Scheduling settings of the clinic. The reference gives no session
/// length, so it ships unset ("needs clinic setting"): booking a session
/// then asks for its minutes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulingConfig {
    /// Minutes of a therapy or integration session when the protocol gives none.
    pub session_minutes: Option<i64>,
    /// `HH:MM`: the time "schedule whole plan" tries first each day.
    pub preferred_start: Option<String>,
}

impl SchedulingConfig {
    pub fn settings(&self) -> Result<clinic_service::scheduling::SchedulingSettings, String> {
        if let Some(m) = self.session_minutes.filter(|m| !(1..=600).contains(m)) {
            return Err(format!("scheduling.session_minutes: must be 1 to 600, got {m}"));
        }
        let preferred_start = match &self.preferred_start {
            None => None,
            Some(text) => Some(
                chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M")
                    .map_err(|_| format!("scheduling.preferred_start: {text:?} is not a time as HH:MM"))?,
            ),
        };
        Ok(clinic_service::scheduling::SchedulingSettings { default_session_minutes: self.session_minutes, preferred_start })
    }
}

/// Site settings for safety alerts and the patient portal. Hours and the
/// on-call clinician ship unset ("needs clinic setting"): alerts then say
/// where they went and why.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SafetyConfig {
    /// Days the clinic is staffed, e.g. `mon-fri`.
    pub open_days: Option<String>,
    /// `HH:MM` in the site's time zone.
    pub opens: Option<String>,
    pub closes: Option<String>,
    pub on_call_name: Option<String>,
    pub on_call_phone: Option<String>,
    pub after_hours_phone: Option<String>,
    /// Defaults: 988 and 911, the US numbers of clinical.md §11.3.
    pub crisis_line: Option<String>,
    pub emergency_number: Option<String>,
    /// How patients reach this server, e.g. `https://clinic.example.org`; links need it.
    pub public_url: Option<String>,
    /// Hours a portal link stays valid (default 72).
    pub link_hours: Option<i64>,
}

impl SafetyConfig {
    pub fn settings(&self) -> Result<clinic_service::screening::SafetySettings, String> {
        let mut settings = clinic_service::screening::SafetySettings::default();
        match (&self.open_days, &self.opens, &self.closes) {
            (None, None, None) => {}
            (Some(days), Some(opens), Some(closes)) => {
                settings.open_hours = Some(clinic_domain::alert::OpenHours::parse(days, opens, closes).map_err(|e| {
                    e.0.iter().map(|e| format!("safety.{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
                })?);
            }
            _ => return Err("safety: open_days, opens and closes are set together".into()),
        }
        settings.on_call = match (&self.on_call_name, &self.on_call_phone) {
            (Some(name), Some(phone)) => Some((name.clone(), phone.clone())),
            (None, None) => None,
            _ => return Err("safety: on_call_name and on_call_phone are set together".into()),
        };
        settings.after_hours_phone = self.after_hours_phone.clone();
        if let Some(line) = &self.crisis_line {
            settings.crisis_line = line.clone();
        }
        if let Some(number) = &self.emergency_number {
            settings.emergency_number = number.clone();
        }
        settings.public_url = self.public_url.clone();
        if let Some(hours) = self.link_hours {
            if !(1..=24 * 14).contains(&hours) {
                return Err(format!("safety.link_hours: must be 1 to {} hours, got {hours}", 24 * 14));
            }
            settings.link_lifetime = chrono::Duration::hours(hours);
        }
        Ok(settings)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteConfig {
    pub name: String,
    /// IANA time zone, e.g. America/New_York; times are shown in it.
    pub time_zone: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Opening hours as shown on the public site.
    pub hours: Option<String>,
}

impl Default for FileConfig {
    fn default() -> FileConfig {
        FileConfig {
            database_url: None,
            bind: "127.0.0.1:8080".into(),
            data_dir: None,
            force_secure_cookies: false,
            log_format: "pretty".into(),
            site: SiteConfig { name: "Ketamine-assisted treatment clinic".into(), time_zone: "UTC".into(), phone: None, address: None, hours: None },
            safety: SafetyConfig::default(),
            scheduling: SchedulingConfig::default(),
            orders: OrdersConfig::default(),
            ledger: LedgerConfig::default(),
            relapse: std::collections::BTreeMap::new(),
            diary: DiaryConfig::default(),
        }
    }
}

impl FileConfig {
    pub fn load() -> anyhow::Result<FileConfig> {
        let mut figment = Figment::from(Serialized::defaults(FileConfig::default())).merge(Toml::file("ketaclinic.toml"));
        if let Ok(url) = std::env::var("DATABASE_URL") {
            figment = figment.merge(Serialized::default("database_url", url));
        }
        figment = figment.merge(Env::prefixed("KETACLINIC_").split("__"));
        Ok(figment.extract()?)
    }
}

/// A database URL, whose password never appears in `Debug` output or logs.
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(SecretString),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(_) => write!(f, "postgres://[redacted]"),
        }
    }
}

impl DatabaseUrl {
    /// Refuses any scheme but `sqlite:` and `postgres:` rather than guessing.
    pub fn parse(text: &str) -> Result<DatabaseUrl, String> {
        if let Some(path) = text.strip_prefix("sqlite://").or_else(|| text.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or("");
            if path.is_empty() {
                return Err("database_url: sqlite:// needs a file path, e.g. sqlite://./ketaclinic-data/ketaclinic.db".into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(SecretString::from(text.to_string())));
        }
        Err("database_url: must start with sqlite:// or postgres:// (other databases are not supported)".into())
    }

    pub fn postgres_url(secret: &SecretString) -> &str {
        secret.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(matches!(DatabaseUrl::parse("sqlite://./x/ketaclinic.db"), Ok(DatabaseUrl::Sqlite(p)) if p == std::path::Path::new("./x/ketaclinic.db")));
        assert!(matches!(DatabaseUrl::parse("postgres://u:secret@h/db"), Ok(DatabaseUrl::Postgres(_))));
        assert!(format!("{:?}", DatabaseUrl::parse("postgres://u:secret@h/db").unwrap()).contains("redacted"));
        for bad in ["mysql://x", "sqlite://", "", "ketaclinic.db"] {
            let err = DatabaseUrl::parse(bad).unwrap_err();
            assert!(err.starts_with("database_url:"), "{err}");
        }
    }

    #[test]
    fn the_ledger_in_use_period_defaults_to_28_days_and_refuses_a_negative_one() {
        assert_eq!(LedgerConfig::default().settings().unwrap().discard_after_opening_days, Some(28));
        let shorter = LedgerConfig { discard_after_opening_days: Some(14) };
        assert_eq!(shorter.settings().unwrap().discard_after_opening_days, Some(14));
        let err = LedgerConfig { discard_after_opening_days: Some(-1) }.settings().unwrap_err();
        assert_eq!(err, "ledger.discard_after_opening_days: must be 0 or more days, got -1");
    }

    #[test]
    fn the_diary_reminder_time_ships_unset_and_refuses_a_time_that_is_not_hh_mm() {
        assert_eq!(DiaryConfig::default().settings().unwrap().reminder_time, None);
        let set = DiaryConfig { reminder_time: Some("10:00".into()) };
        assert_eq!(set.settings().unwrap().reminder_time, chrono::NaiveTime::from_hms_opt(10, 0, 0));
        let err = DiaryConfig { reminder_time: Some("25:00".into()) }.settings().unwrap_err();
        assert_eq!(err, "diary.reminder_time: \"25:00\" is not a time as HH:MM");
    }
}
