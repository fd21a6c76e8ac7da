#![doc = include_str!("../README.md")]

pub mod audit;
pub mod authz;
pub mod field;
pub mod inquiry;
pub mod mrn;
pub mod password;
pub mod patient;
pub mod session;
pub mod throttle;
pub mod user;
