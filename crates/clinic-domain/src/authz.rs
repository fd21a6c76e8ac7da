//! The one permission table: what each role may do.
//!
//! Handlers and services ask `role_allows(role, permission)`; nothing else in
//! the code base compares role names. Least privilege (45 CFR 164.502(b),
//! minimum necessary; clinical.md §7.2): the director sees aggregates, not
//! charts; the administrator manages accounts and the audit log, not charts.

use crate::user::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// The staff home page and its "what needs me now" counts.
    StaffHome,
    /// Read identifiable patient records (registry, chart header).
    PatientRead,
    /// Register a new patient.
    PatientCreate,
    /// Change a patient's demographics, contacts or status.
    PatientUpdate,
    /// Read the audit log.
    AuditRead,
    /// Add, disable and reset staff accounts.
    UserManage,
    /// Program aggregates without identifiers.
    AggregateRead,
    /// Read inquiries (already confidential: they identify someone seeking SUD care).
    InquiryRead,
    /// Work the inquiry queue: log calls, change status, assign, convert.
    InquiryManage,
    /// Read questionnaire results and screening (clinical staff only: a PHQ-9
    /// item 9 answer is not for the front desk).
    ScreeningRead,
    /// Enter questionnaire answers for a patient.
    ScreeningRecord,
    /// Send a patient a portal or questionnaire link.
    PortalInvite,
    /// See open safety alerts.
    AlertRead,
    /// Close a safety alert by recording the response taken.
    AlertManage,
    /// Have a patient sign a consent (on a clinic tablet) and record a revocation.
    ConsentManage,
    /// Sign the eligibility decision: physicians only.
    EligibilitySign,
    /// Read treatment plans (doses, dates, history): clinicians.
    PlanRead,
    /// Make, edit, sign and end treatment plans: physicians only.
    PlanManage,
    /// See bookings: the day board, calendars, a patient's appointments.
    ScheduleRead,
    /// Book, reschedule and cancel appointments and record no-shows.
    ScheduleManage,
    /// Set a site's opening hours, closures, chairs, rooms, rules and staff hours.
    SiteManage,
    /// Read infusion orders and their checks: physicians and nurses.
    OrderRead,
    /// Sign and cancel infusion orders: physicians only.
    OrderSign,
    /// Make the independent double check of an order: physicians and nurses.
    OrderCheck,
    /// Keep the chair-side chart: check-in, checklist, pump, vitals, alerts, discharge, the floor board.
    InfusionChart,
    /// Discharge with criteria unmet, with a written reason: physicians only.
    DischargeOverride,
    /// Read the controlled-substance ledger, its balances, counts and reports (the
    /// administration log names patients): physicians and nurses.
    LedgerRead,
    /// Record ledger entries (receipt, withdrawal, administration, waste, return,
    /// destruction, loss, count, correction) and witness them: physicians and nurses.
    LedgerRecord,
    /// Read counseling records (attendance, progress notes, homework) in the chart: clinicians.
    CounselingRead,
    /// Record a counseling session's attendance, progress note and homework: counselors and physicians.
    CounselingRecord,
    /// Read outcome data (use calendar, tests, conflicts, measures): clinicians.
    OutcomeRead,
    /// Enter the timeline follow-back and test results: clinicians.
    OutcomeRecord,
    /// Confirm or reject a ketamine-misuse flag: physicians only.
    MisuseDecide,
    /// Program analytics: aggregates only, never a chart: directors and physicians.
    AnalyticsRead,
}

impl Permission {
    pub const ALL: [Permission; 34] = [
        Permission::StaffHome,
        Permission::PatientRead,
        Permission::PatientCreate,
        Permission::PatientUpdate,
        Permission::AuditRead,
        Permission::UserManage,
        Permission::AggregateRead,
        Permission::InquiryRead,
        Permission::InquiryManage,
        Permission::ScreeningRead,
        Permission::ScreeningRecord,
        Permission::PortalInvite,
        Permission::AlertRead,
        Permission::AlertManage,
        Permission::ConsentManage,
        Permission::EligibilitySign,
        Permission::PlanRead,
        Permission::PlanManage,
        Permission::ScheduleRead,
        Permission::ScheduleManage,
        Permission::SiteManage,
        Permission::OrderRead,
        Permission::OrderSign,
        Permission::OrderCheck,
        Permission::InfusionChart,
        Permission::DischargeOverride,
        Permission::LedgerRead,
        Permission::LedgerRecord,
        Permission::CounselingRead,
        Permission::CounselingRecord,
        Permission::OutcomeRead,
        Permission::OutcomeRecord,
        Permission::MisuseDecide,
        Permission::AnalyticsRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::StaffHome => "staff_home",
            Permission::PatientRead => "patient_read",
            Permission::PatientCreate => "patient_create",
            Permission::PatientUpdate => "patient_update",
            Permission::AuditRead => "audit_read",
            Permission::UserManage => "user_manage",
            Permission::AggregateRead => "aggregate_read",
            Permission::InquiryRead => "inquiry_read",
            Permission::InquiryManage => "inquiry_manage",
            Permission::ScreeningRead => "screening_read",
            Permission::ScreeningRecord => "screening_record",
            Permission::PortalInvite => "portal_invite",
            Permission::AlertRead => "alert_read",
            Permission::AlertManage => "alert_manage",
            Permission::ConsentManage => "consent_manage",
            Permission::EligibilitySign => "eligibility_sign",
            Permission::PlanRead => "plan_read",
            Permission::PlanManage => "plan_manage",
            Permission::ScheduleRead => "schedule_read",
            Permission::ScheduleManage => "schedule_manage",
            Permission::SiteManage => "site_manage",
            Permission::OrderRead => "order_read",
            Permission::OrderSign => "order_sign",
            Permission::OrderCheck => "order_check",
            Permission::InfusionChart => "infusion_chart",
            Permission::DischargeOverride => "discharge_override",
            Permission::LedgerRead => "ledger_read",
            Permission::LedgerRecord => "ledger_record",
            Permission::CounselingRead => "counseling_read",
            Permission::CounselingRecord => "counseling_record",
            Permission::OutcomeRead => "outcome_read",
            Permission::OutcomeRecord => "outcome_record",
            Permission::MisuseDecide => "misuse_decide",
            Permission::AnalyticsRead => "analytics_read",
        }
    }
}

/// The table. Written as one match so a reviewer reads every grant in one place.
pub fn role_allows(role: Role, permission: Permission) -> bool {
    use Permission as P;
    use Role as R;
    match permission {
        P::StaffHome => role != R::Patient,
        P::PatientRead => matches!(role, R::Physician | R::Nurse | R::Counselor | R::Frontdesk),
        P::PatientCreate => matches!(role, R::Physician | R::Nurse | R::Frontdesk),
        P::PatientUpdate => matches!(role, R::Physician | R::Nurse | R::Frontdesk),
        P::AuditRead => role == R::Admin,
        P::UserManage => role == R::Admin,
        P::AggregateRead => matches!(role, R::Director | R::Physician | R::Admin),
        P::InquiryRead => matches!(role, R::Physician | R::Nurse | R::Counselor | R::Frontdesk),
        P::InquiryManage => matches!(role, R::Physician | R::Nurse | R::Frontdesk),
        P::ScreeningRead | P::ScreeningRecord | P::AlertRead | P::AlertManage => matches!(role, R::Physician | R::Nurse | R::Counselor),
        P::PortalInvite | P::ConsentManage => matches!(role, R::Physician | R::Nurse | R::Counselor | R::Frontdesk),
        P::EligibilitySign | P::PlanManage => role == R::Physician,
        P::PlanRead => matches!(role, R::Physician | R::Nurse | R::Counselor),
        P::ScheduleRead | P::ScheduleManage => matches!(role, R::Physician | R::Nurse | R::Counselor | R::Frontdesk),
        P::SiteManage => role == R::Admin,
        P::OrderRead | P::OrderCheck => matches!(role, R::Physician | R::Nurse),
        P::OrderSign | P::DischargeOverride | P::MisuseDecide => role == R::Physician,
        P::InfusionChart | P::LedgerRead | P::LedgerRecord => matches!(role, R::Physician | R::Nurse),
        P::CounselingRead | P::OutcomeRead | P::OutcomeRecord => matches!(role, R::Physician | R::Nurse | R::Counselor),
        P::CounselingRecord => matches!(role, R::Physician | R::Counselor),
        P::AnalyticsRead => matches!(role, R::Director | R::Physician),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(permission: Permission, expect: &[Role]) {
        let allowed: Vec<Role> =
            Role::ALL.into_iter().filter(|role| role_allows(*role, permission)).collect();
        assert_eq!(allowed, expect, "{}", permission.as_str());
    }

    #[test]
    fn the_table_grants_least_privilege() {
        use Role::*;
        check(Permission::StaffHome, &[Admin, Director, Physician, Nurse, Counselor, Frontdesk]);
        check(Permission::PatientRead, &[Physician, Nurse, Counselor, Frontdesk]);
        check(Permission::PatientCreate, &[Physician, Nurse, Frontdesk]);
        check(Permission::PatientUpdate, &[Physician, Nurse, Frontdesk]);
        check(Permission::AuditRead, &[Admin]);
        check(Permission::UserManage, &[Admin]);
        check(Permission::AggregateRead, &[Admin, Director, Physician]);
        check(Permission::InquiryRead, &[Physician, Nurse, Counselor, Frontdesk]);
        check(Permission::InquiryManage, &[Physician, Nurse, Frontdesk]);
        for clinical in [Permission::ScreeningRead, Permission::ScreeningRecord, Permission::AlertRead, Permission::AlertManage] {
            check(clinical, &[Physician, Nurse, Counselor]);
        }
        check(Permission::PortalInvite, &[Physician, Nurse, Counselor, Frontdesk]);
        check(Permission::ConsentManage, &[Physician, Nurse, Counselor, Frontdesk]);
        check(Permission::EligibilitySign, &[Physician]);
        check(Permission::PlanManage, &[Physician]);
        check(Permission::PlanRead, &[Physician, Nurse, Counselor]);
        check(Permission::ScheduleRead, &[Physician, Nurse, Counselor, Frontdesk]);
        check(Permission::ScheduleManage, &[Physician, Nurse, Counselor, Frontdesk]);
        check(Permission::SiteManage, &[Admin]);
        check(Permission::OrderRead, &[Physician, Nurse]);
        check(Permission::OrderCheck, &[Physician, Nurse]);
        check(Permission::OrderSign, &[Physician]);
        check(Permission::InfusionChart, &[Physician, Nurse]);
        check(Permission::DischargeOverride, &[Physician]);
        check(Permission::LedgerRead, &[Physician, Nurse]);
        check(Permission::LedgerRecord, &[Physician, Nurse]);
        check(Permission::CounselingRead, &[Physician, Nurse, Counselor]);
        check(Permission::CounselingRecord, &[Physician, Counselor]);
        check(Permission::OutcomeRead, &[Physician, Nurse, Counselor]);
        check(Permission::OutcomeRecord, &[Physician, Nurse, Counselor]);
        check(Permission::MisuseDecide, &[Physician]);
        check(Permission::AnalyticsRead, &[Director, Physician]);
    }

    #[test]
    fn patients_hold_no_staff_permission() {
        for permission in Permission::ALL {
            assert!(!role_allows(Role::Patient, permission), "{}", permission.as_str());
        }
    }
}
