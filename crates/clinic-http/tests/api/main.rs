//! HTTP tests through the real router, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

mod analytics;
mod audit;
mod auth;
mod authz;
mod chair;
mod conventions;
mod counseling;
mod helpers;
mod inquiries;
mod ledger;
mod orders;
mod outcomes;
mod patients;
mod screening;
mod eligibility;
mod plans;
mod relapse;
mod scheduling;
