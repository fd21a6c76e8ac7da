//! Rows aggregated per arm and per distinct time, as they arrive.

use std::collections::HashMap;

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

/// Whole days below this are counted in a dense array, one cell per day.
const DENSE_DAYS: u32 = 1 << 16;

/// Arms are looked up by a linear scan up to this many, then by hash.
const FEW_ARMS: usize = 16;

/// Aggregates rows one at a time. Whole days take one counter per distinct
/// day; other times take 8 bytes a row until `finish` sorts and counts them.
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
    /// Every other row as `time bits << 1 | relapsed` (a time ≥ 0 has a zero
    /// sign bit, so nothing is lost), sorted and counted in `finish`.
    sparse: Vec<u64>,
}

impl CohortBuilder {
    pub fn new() -> CohortBuilder {
        CohortBuilder::default()
    }

    /// The id of the arm named `name`, adding the arm on first sight.
    pub fn arm_id(&mut self, name: &str) -> ArmId {
        if let Some(id) = self.known_arm(name.as_bytes()) {
            return id;
        }
        let idx = self.arms.len();
        self.arm_ids.insert(name.as_bytes().into(), idx);
        self.arms.push(ArmCounts {
            name: name.to_string(),
            dense: Vec::new(),
            sparse: Vec::new(),
        });
        ArmId(idx)
    }

    /// The arm's id if it has been seen, without adding it.
    pub fn known_arm(&self, name: &[u8]) -> Option<ArmId> {
        if self.arms.len() <= FEW_ARMS {
            return self
                .arms
                .iter()
                .position(|arm| arm.name.as_bytes() == name)
                .map(ArmId);
        }
        self.arm_ids.get(name).map(|&idx| ArmId(idx))
    }

    pub fn add(&mut self, arm: ArmId, days: Days, relapsed: bool) {
        let Some(counts) = self.arms.get_mut(arm.0) else {
            debug_assert!(false, "ArmId from another builder");
            return;
        };
        counts
            .sparse
            .push(days.get().to_bits() << 1 | u64::from(relapsed));
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
        let mut keys = self.sparse;
        sort_keys(&mut keys);
        // Runs of one time; non-negative finite floats order like their bits.
        let mut entries: Vec<(f64, [u64; 2])> = Vec::new();
        let mut previous_bits = None;
        for key in keys {
            let (bits, relapsed) = (key >> 1, key & 1);
            match entries.last_mut() {
                Some(last) if previous_bits == Some(bits) => {
                    last.1[0] += 1;
                    last.1[1] += relapsed;
                }
                _ => {
                    entries.push((f64::from_bits(bits), [1, relapsed]));
                    previous_bits = Some(bits);
                }
            }
        }
        let capacity = entries.len() + self.dense.len();
        let mut table = ArmTable {
            name: self.name,
            times: Vec::with_capacity(capacity),
            removed: Vec::with_capacity(capacity),
            observed: Vec::with_capacity(capacity),
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

/// Ascending sort: least-significant-digit radix sort on 16-bit digits for
/// large inputs (digits that are the same in every key are skipped).
fn sort_keys(keys: &mut Vec<u64>) {
    if keys.len() < 4096 {
        keys.sort_unstable();
        return;
    }
    let mut buffer = vec![0u64; keys.len()];
    let mut counts = vec![0usize; 1 << 16];
    for shift in [0u32, 16, 32, 48] {
        counts.fill(0);
        for &key in keys.iter() {
            counts[digit(key, shift)] += 1;
        }
        if counts.contains(&keys.len()) {
            continue;
        }
        let mut next = 0;
        for count in counts.iter_mut() {
            let here = *count;
            *count = next;
            next += here;
        }
        for &key in keys.iter() {
            let slot = &mut counts[digit(key, shift)];
            buffer[*slot] = key;
            *slot += 1;
        }
        std::mem::swap(keys, &mut buffer);
    }
}

fn digit(key: u64, shift: u32) -> usize {
    usize::from(u16::try_from((key >> shift) & 0xFFFF).unwrap_or(0))
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
    fn radix_sort_sorts() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut keys: Vec<u64> = (0..20_000)
            .map(|idx| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Mostly realistic keys (small floats, shifted), some wild.
                if idx % 3 == 0 {
                    state
                } else {
                    (f64::from(u32::try_from(state % 100_000).unwrap()) / 7.0).to_bits() << 1
                        | (state & 1)
                }
            })
            .collect();
        let mut expected = keys.clone();
        expected.sort_unstable();
        sort_keys(&mut keys);
        assert_eq!(keys, expected);
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
