//! Model parameters: the published sets of clinical.md §5.1 and explicit
//! ones, validated once so every `Params` describes a well-posed model.

/// Central volume and rate constants of a mammillary model. V1 in L/kg, rate
/// constants per minute. A two-compartment model has `k13 = k31 = 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    v1_l_per_kg: f64,
    k10: f64,
    k12: f64,
    k21: f64,
    k13: f64,
    k31: f64,
}

/// Why a parameter set is refused; the field is the parameter's name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidParams {
    #[error("{field}: {value} is not allowed; must be a finite number greater than 0")]
    NotPositive { field: &'static str, value: f64 },
    #[error("k13 and k31: {k13} and {k31} are not allowed; both must be greater than 0 (three compartments) or both 0 (two compartments)")]
    ThirdCompartment { k13: f64, k31: f64 },
}

impl Params {
    pub fn new(v1_l_per_kg: f64, k10: f64, k12: f64, k21: f64, k13: f64, k31: f64) -> Result<Params, InvalidParams> {
        for (field, value) in [("v1", v1_l_per_kg), ("k10", k10), ("k12", k12), ("k21", k21)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(InvalidParams::NotPositive { field, value });
            }
        }
        let both_zero = k13 == 0.0 && k31 == 0.0;
        let both_positive = k13.is_finite() && k31.is_finite() && k13 > 0.0 && k31 > 0.0;
        if !(both_zero || both_positive) {
            return Err(InvalidParams::ThirdCompartment { k13, k31 });
        }
        Ok(Params {
            v1_l_per_kg,
            k10,
            k12,
            k21,
            k13,
            k31,
        })
    }

    pub fn v1_l_per_kg(&self) -> f64 {
        self.v1_l_per_kg
    }
    pub fn k10(&self) -> f64 {
        self.k10
    }
    pub fn k12(&self) -> f64 {
        self.k12
    }
    pub fn k21(&self) -> f64 {
        self.k21
    }
    pub fn k13(&self) -> f64 {
        self.k13
    }
    pub fn k31(&self) -> f64 {
        self.k31
    }

    /// True when the third compartment is absent (`k13 = k31 = 0`).
    pub fn is_two_compartment(&self) -> bool {
        self.k13 == 0.0 && self.k31 == 0.0
    }

    /// `[v1, k10, k12, k21, k13, k31]`, the order of the subjects file.
    pub fn to_array(&self) -> [f64; 6] {
        [self.v1_l_per_kg, self.k10, self.k12, self.k21, self.k13, self.k31]
    }
}

/// The published adult parameter sets of racemic ketamine in
/// reference/clinical.md §5.1, each exactly as the reference gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Three compartments; the reference's recommended set for simulation.
    Domino,
    /// Two compartments.
    Clements,
    /// Two compartments.
    Hijazi,
}

impl Model {
    pub const ALL: [Model; 3] = [Model::Domino, Model::Clements, Model::Hijazi];

    /// The command-line spelling (`--model`).
    pub fn name(self) -> &'static str {
        match self {
            Model::Domino => "domino",
            Model::Clements => "clements",
            Model::Hijazi => "hijazi",
        }
    }

    pub fn parse(text: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|model| model.name() == text)
    }

    /// The original source, as reference/clinical.md §5.1 cites it.
    pub fn source(self) -> &'static str {
        match self {
            Model::Domino => "Domino et al. 1982, Anesth Analg 61:87 (PMID 7198883); constants as in opentiva [S48] and fus_anes [S49]",
            Model::Clements => "Clements & Nimmo 1981, Br J Anaesth 53:27 (PMID 7459184), 250 µg/kg bolus data; from opentiva [S48], unverified against the paper",
            Model::Hijazi => "Hijazi et al. 2003, Br J Anaesth 90:155 (PMID 12538370), ICU brain/spinal-injury patients; from opentiva [S48], which flags the model age <= 18 (unverified)",
        }
    }

    /// The parameter set. Every number is copied from reference/clinical.md §5.1.
    pub fn params(self) -> Params {
        let (v1, k10, k12, k21, k13, k31) = match self {
            // Domino et al. 1982 (Anesth Analg 61:87, PMID 7198883), via opentiva [S48] and fus_anes [S49].
            Model::Domino => (0.063, 0.4381, 0.5921, 0.2470, 0.5900, 0.0146),
            // Clements & Nimmo 1981 (Br J Anaesth 53:27, PMID 7459184), via opentiva [S48]; UNVERIFIED vs paper.
            Model::Clements => (1.7522, 0.0109, 0.0186, 0.0137, 0.0, 0.0),
            // Hijazi et al. 2003 (Br J Anaesth 90:155, PMID 12538370), via opentiva [S48]; population age UNVERIFIED.
            Model::Hijazi => (1.08, 0.0333, 0.0088, 0.0030, 0.0, 0.0),
        };
        Params {
            v1_l_per_kg: v1,
            k10,
            k12,
            k21,
            k13,
            k31,
        }
    }
}
