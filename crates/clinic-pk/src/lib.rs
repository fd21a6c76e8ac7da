#![doc = include_str!("../README.md")]

pub mod bracket;
pub mod cohort;
pub mod modes;
pub mod params;
pub mod percentile;
pub mod population;
pub mod regimen;
pub mod rng;
pub mod schedule;
pub mod simulate;
pub mod subjects_csv;
