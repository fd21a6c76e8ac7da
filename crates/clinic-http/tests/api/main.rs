//! HTTP tests through the real router, on SQLite and PostgreSQL.

mod audit;
mod auth;
mod authz;
mod conventions;
mod helpers;
mod inquiries;
mod patients;
