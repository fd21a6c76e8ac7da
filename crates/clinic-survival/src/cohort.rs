//! Rows aggregated per arm and per distinct time, as they arrive.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Days from the start of follow-up to relapse or censoring: finite and ≥ 0.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Days(f64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDays {
    #[error("is negative")]
    Negative,
    #[error("is not a finite number")]
    NotFinite,
}

impl Days {
    pub fn new(value: f64) -> Result<Days, InvalidDays> {
        if !value.is_finite() {
            return Err(InvalidDays::NotFinite);
        }
        if value < 0.0 {
            return Err(InvalidDays::Negative);
        }
        // −0 is 0: one key per time.
        Ok(Days(value + 0.0))
    }

    pub fn from_whole_days(days: u32) -> Days {
        Days(f64::from(days))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

/// One arm: its distinct times ascending, how many rows have each time
/// (`removed`) and how many of those relapsed (`observed`).
#[derive(Debug, Clone, PartialEq)]
pub struct ArmTable {
    pub name: String,
    pub times: Vec<f64>,
    pub removed: Vec<u64>,
    pub observed: Vec<u64>,
}

impl ArmTable {
    pub fn n(&self) -> u64 {
        self.removed.iter().sum()
    }

    pub fn events(&self) -> u64 {
        self.observed.iter().sum()
    }
}

/// Every arm of a cohort, sorted by name; no arm is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Cohort {
    arms: Vec<ArmTable>,
}

impl Cohort {
    pub fn arms(&self) -> &[ArmTable] {
        &self.arms
    }

    pub fn arm(&self, name: &str) -> Option<&ArmTable> {
        self.arms.iter().find(|arm| arm.name == name)
    }

    pub fn n_rows(&self) -> u64 {
        self.arms.iter().map(ArmTable::n).sum()
    }
}

/// An arm already seen by a [`CohortBuilder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArmId(usize);

/// Whole days below this are counted in a dense array rather than a hash map.
const DENSE_DAYS: u32 = 1 << 16;

/// Aggregates rows one at a time; memory grows with distinct (arm, time)
/// pairs, not with rows.
#[derive(Debug, Default)]
pub struct CohortBuilder {
    arm_ids: HashMap<Box<[u8]>, usize>,
    arms: Vec<ArmCounts>,
}

#[derive(Debug)]
struct ArmCounts {
    name: String,
    /// `[removed, observed]` per whole day below `DENSE_DAYS`.
    dense: Vec<[u64; 2]>,
    /// `[removed, observed]` per other time, keyed by the bits of the f64.
    sparse: HashMap<u64, [u64; 2], BuildHasherDefault<BitsHasher>>,
}

impl CohortBuilder {
    pub fn new() -> CohortBuilder {
        CohortBuilder::default()
    }

    /// The id of the arm named `name`, adding the arm on first sight.
    pub fn arm_id(&mut self, name: &str) -> ArmId {
        if let Some(&idx) = self.arm_ids.get(name.as_bytes()) {
            return ArmId(idx);
        }
        let idx = self.arms.len();
        self.arm_ids.insert(name.as_bytes().into(), idx);
        self.arms.push(ArmCounts {
            name: name.to_string(),
            dense: Vec::new(),
            sparse: HashMap::default(),
        });
        ArmId(idx)
    }

    /// The arm's name if it has been seen, without adding it.
    pub fn known_arm(&self, name: &[u8]) -> Option<ArmId> {
        self.arm_ids.get(name).map(|&idx| ArmId(idx))
    }

    pub fn add(&mut self, arm: ArmId, days: Days, relapsed: bool) {
        let Some(counts) = self.arms.get_mut(arm.0) else {
            debug_assert!(false, "ArmId from another builder");
            return;
        };
        let cell = counts.sparse.entry(days.get().to_bits()).or_insert([0, 0]);
        cell[0] += 1;
        cell[1] += u64::from(relapsed);
    }

    /// Same as `add(arm, Days::from_whole_days(days), relapsed)`, faster.
    pub fn add_whole_days(&mut self, arm: ArmId, days: u32, relapsed: bool) {
        if days >= DENSE_DAYS {
            self.add(arm, Days::from_whole_days(days), relapsed);
            return;
        }
        let Some(counts) = self.arms.get_mut(arm.0) else {
            debug_assert!(false, "ArmId from another builder");
            return;
        };
        let Ok(idx) = usize::try_from(days) else {
            return;
        };
        if idx >= counts.dense.len() {
            counts.dense.resize(idx + 1, [0, 0]);
        }
        if let Some(cell) = counts.dense.get_mut(idx) {
            cell[0] += 1;
            cell[1] += u64::from(relapsed);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.arms.is_empty()
    }

    /// Sorts each arm's times and the arms by name.
    pub fn finish(self) -> Cohort {
        let mut arms: Vec<ArmTable> = self.arms.into_iter().map(ArmCounts::into_table).collect();
        arms.sort_by(|a, b| a.name.cmp(&b.name));
        Cohort { arms }
    }
}

impl ArmCounts {
    fn into_table(self) -> ArmTable {
        let mut entries: Vec<(f64, [u64; 2])> = self
            .sparse
            .into_iter()
            .map(|(bits, cell)| (f64::from_bits(bits), cell))
            .collect();
        // Non-negative finite floats order like their bit patterns.
        entries.sort_unstable_by_key(|(time, _)| time.to_bits());
        let mut table = ArmTable {
            name: self.name,
            times: Vec::with_capacity(entries.len() + self.dense.len()),
            removed: Vec::with_capacity(entries.len() + self.dense.len()),
            observed: Vec::with_capacity(entries.len() + self.dense.len()),
        };
        let dense = (0u32..)
            .zip(self.dense)
            .filter(|(_, cell)| cell[0] > 0)
            .map(|(day, cell)| (f64::from(day), cell));
        // Merge two ascending sequences; a time in both is one row.
        let mut dense = dense.peekable();
        let mut sparse = entries.into_iter().peekable();
        loop {
            let next = match (dense.peek(), sparse.peek()) {
                (Some(d), Some(s)) if d.0 < s.0 => dense.next(),
                (Some(d), Some(s)) if s.0 < d.0 => sparse.next(),
                (Some(_), Some(_)) => match (dense.next(), sparse.next()) {
                    (Some(d), Some(s)) => Some((d.0, [d.1[0] + s.1[0], d.1[1] + s.1[1]])),
                    _ => None,
                },
                (Some(_), None) => dense.next(),
                (None, Some(_)) => sparse.next(),
                (None, None) => None,
            };
            let Some((time, [removed, observed])) = next else {
                break;
            };
            table.times.push(time);
            table.removed.push(removed);
            table.observed.push(observed);
        }
        table
    }
}

/// A fast, well-mixing hash for f64 bit patterns (murmur3's finaliser):
/// short decimals have many zero low bits, which a plain multiply keeps.
#[derive(Debug, Default)]
struct BitsHasher(u64);

impl Hasher for BitsHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_refuses_negative_and_non_finite_and_folds_negative_zero() {
        assert_eq!(Days::new(-1.0), Err(InvalidDays::Negative));
        assert_eq!(Days::new(f64::NAN), Err(InvalidDays::NotFinite));
        assert_eq!(Days::new(f64::INFINITY), Err(InvalidDays::NotFinite));
        assert_eq!(
            Days::new(-0.0).map(|d| d.get().to_bits()),
            Ok(0.0f64.to_bits())
        );
    }

    #[test]
    fn whole_and_fractional_days_merge_into_one_sorted_table() {
        let mut builder = CohortBuilder::new();
        let b = builder.arm_id("b");
        let a = builder.arm_id("a");
        builder.add_whole_days(a, 5, true);
        builder.add(a, Days::new(5.0).unwrap_or(Days::from_whole_days(0)), false);
        builder.add(a, Days::new(2.5).unwrap_or(Days::from_whole_days(0)), true);
        builder.add_whole_days(a, 70_000, false);
        builder.add_whole_days(a, 0, false);
        builder.add_whole_days(b, 3, true);
        let cohort = builder.finish();
        let names: Vec<&str> = cohort.arms().iter().map(|arm| arm.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let arm_a = &cohort.arms()[0];
        assert_eq!(arm_a.times, [0.0, 2.5, 5.0, 70_000.0]);
        assert_eq!(arm_a.removed, [1, 1, 2, 1]);
        assert_eq!(arm_a.observed, [0, 1, 1, 0]);
        assert_eq!(cohort.n_rows(), 6);
    }
}
