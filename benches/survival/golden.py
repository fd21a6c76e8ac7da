"""Writes the committed golden inputs and lifelines' answers for them.

Run once (see README.md); the Rust tests read the results offline:
    benches/survival/.venv/bin/python benches/survival/golden.py

Inputs go to crates/clinic-survival/tests/data/NAME.csv and lifelines'
answers to NAME.lifelines.json. Synthetic inputs come from fixed seeds, and
the two published data sets from the copies that lifelines ships.
"""

import json
import math
import pathlib
import warnings

import numpy as np
import pandas as pd
import lifelines
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.datasets import load_leukemia, load_lung
from lifelines.statistics import logrank_test, multivariate_logrank_test
from scipy.optimize import brentq

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates" / "clinic-survival" / "tests" / "data"


def number(x):
    x = float(x)
    return x if math.isfinite(x) else None


def inputs():
    """Each case: name -> (DataFrame patient_id,arm,days,relapsed, [(treatment, reference), ...])."""
    cases = {}

    lung = load_lung()
    cases["lung"] = (
        pd.DataFrame({
            "patient_id": [f"L{i:03d}" for i in range(len(lung))],
            "arm": np.where(lung["sex"] == 2, "female", "male"),
            "days": lung["time"].astype(int),
            "relapsed": lung["status"].astype(int),
        }),
        [("female", "male")],
    )

    leukemia = load_leukemia()
    cases["freireich"] = (
        pd.DataFrame({
            "patient_id": [f"F{i:02d}" for i in range(len(leukemia))],
            "arm": np.where(leukemia["Rx"] == 1, "placebo", "6-mp"),
            "days": leukemia["t"].astype(int),
            "relapsed": leukemia["status"].astype(int),
        }),
        [("placebo", "6-mp")],
    )

    # Hand-sized: ties, censoring at an event time, relapses at day 0.
    rows = [
        ("ketamine", 0, 1), ("ketamine", 0, 0), ("ketamine", 3, 1), ("ketamine", 3, 1), ("ketamine", 3, 0),
        ("ketamine", 5, 0), ("ketamine", 8, 1), ("ketamine", 8, 0), ("ketamine", 12, 1), ("ketamine", 20, 0),
        ("placebo", 0, 1), ("placebo", 2, 1), ("placebo", 3, 1), ("placebo", 3, 0), ("placebo", 4, 1),
        ("placebo", 5, 1), ("placebo", 5, 1), ("placebo", 8, 1), ("placebo", 9, 0), ("placebo", 11, 1),
    ]
    cases["ties_small"] = (frame(rows, "T"), [("ketamine", "placebo")])

    rng = np.random.default_rng(20261127)
    # Integer days 1-180 with heavy ties, a hazard ratio near 0.6.
    rows = []
    for arm, rate in (("ketamine", 0.006), ("placebo", 0.010)):
        for _ in range(1000):
            t = rng.exponential(1 / rate)
            c = rng.uniform(20, 250)
            days = int(min(max(math.ceil(min(t, c)), 1), 180))
            rows.append((arm, days, int(t <= c and t <= 180)))
    cases["integer_days"] = (frame(rows, "I"), [("ketamine", "placebo")])

    # Continuous days (three decimals), censoring at random.
    rows = []
    for arm, rate in (("ketamine", 0.02), ("tau", 0.03)):
        for _ in range(400):
            t = rng.weibull(1.3) / rate
            c = rng.uniform(5, 120)
            rows.append((arm, round(min(t, c), 3), int(t <= c)))
    cases["continuous_days"] = (frame(rows, "C"), [("ketamine", "tau")])

    # Three arms: the k-arm log-rank; Cox on two named arms.
    rows = []
    for arm, rate in (("alcohol-met", 0.015), ("cocaine-mbrp", 0.02), ("placebo", 0.025)):
        for _ in range(150):
            t = rng.exponential(1 / rate)
            c = rng.uniform(10, 200)
            rows.append((arm, int(math.ceil(min(t, c))), int(t <= c)))
    cases["three_arms"] = (frame(rows, "K"), [("cocaine-mbrp", "placebo"), ("alcohol-met", "placebo")])

    # Tiny: where lifelines' default stopping rule is visibly short of the maximum.
    rows = [("ketamine", 6, 1), ("ketamine", 9, 0), ("ketamine", 14, 1), ("ketamine", 30, 0),
            ("placebo", 2, 1), ("placebo", 4, 1), ("placebo", 9, 1), ("placebo", 10, 0), ("placebo", 15, 1)]
    cases["tiny"] = (frame(rows, "S"), [("ketamine", "placebo")])
    # Medians exactly on 0.5 (n/2 relapses one at a time, then censoring):
    # whether the log-space sum lands on, above or below 0.5 decides the median.
    rows = []
    for n in (2, 4, 6, 8, 10, 12, 20, 50, 100, 1000):
        for i in range(n):
            rows.append((f"n{n:04d}", i + 1 if i < n // 2 else 5000, int(i < n // 2)))
    cases["median_half"] = (frame(rows, "H"), [])
    return cases


def frame(rows, prefix):
    return pd.DataFrame({
        "patient_id": [f"{prefix}{i:04d}" for i in range(len(rows))],
        "arm": [r[0] for r in rows],
        "days": [r[1] for r in rows],
        "relapsed": [r[2] for r in rows],
    })


def km_answer(sub):
    kmf = KaplanMeierFitter().fit(sub["days"], sub["relapsed"])
    table = kmf.event_table
    ci = kmf.confidence_interval_
    median_ci = lifelines.utils.median_survival_times(ci)
    return {
        "n": int(len(sub)),
        "events": int(sub["relapsed"].sum()),
        "timeline": [number(t) for t in kmf.survival_function_.index],
        "survival": [number(s) for s in kmf.survival_function_.iloc[:, 0]],
        "ci_lower": [number(s) for s in ci.iloc[:, 0]],
        "ci_upper": [number(s) for s in ci.iloc[:, 1]],
        "at_risk": [int(x) for x in table["at_risk"]],
        "observed": [int(x) for x in table["observed"]],
        "censored": [int(x) for x in table["censored"]],
        "median": number(kmf.median_survival_time_),
        "median_ci_lower": number(median_ci.iloc[0, 0]),
        "median_ci_upper": number(median_ci.iloc[0, 1]),
    }


def cox_answer(df, treatment, reference, fit_options):
    pair = df[df["arm"].isin([treatment, reference])]
    data = pd.DataFrame({"days": pair["days"], "relapsed": pair["relapsed"],
                         "x": (pair["arm"] == treatment).astype(float)})
    cph = CoxPHFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph.fit(data, "days", "relapsed", fit_options=fit_options)
    lr = cph.log_likelihood_ratio_test()
    return {
        "treatment": treatment,
        "reference": reference,
        "coef": number(cph.params_["x"]),
        "se": number(cph.standard_errors_["x"]),
        "z": number(cph.summary.loc["x", "z"]),
        "p": number(cph.summary.loc["x", "p"]),
        "log_likelihood": number(cph.log_likelihood_),
        "log_likelihood_null": number(cph._ll_null_),
        "lr_test_statistic": number(lr.test_statistic),
        "lr_test_p": number(lr.p_value),
        "n": int(len(pair)),
        "events": int(pair["relapsed"].sum()),
    }


def efron_sums(t, e, x, beta):
    """Partial log-likelihood, score and Hessian (Efron ties) written out
    directly from survival.md §9, summed with math.fsum."""
    ll, score, hess = [], [], []
    phi = np.exp(beta * x)
    for time in np.unique(t[e == 1]):
        risk = t >= time
        tied = (t == time) & (e == 1)
        d = int(tied.sum())
        r0, r1 = phi[risk].sum(), (phi * x)[risk].sum()
        d0, d1 = phi[tied].sum(), (phi * x)[tied].sum()
        ll.append(beta * x[tied].sum())
        score.append(x[tied].sum())
        for l in range(d):
            w = l / d
            den, num = r0 - w * d0, r1 - w * d1
            ll.append(-math.log(den))
            score.append(-num / den)
            hess.append(-(num / den - (num / den) ** 2))
    return math.fsum(ll), math.fsum(score), math.fsum(hess)


def cox_optimum(df, treatment, reference):
    """The true maximum, independently of lifelines: the root of the score by
    bracketing (the log-likelihood is concave), to 1e-14."""
    pair = df[df["arm"].isin([treatment, reference])]
    t = pair["days"].to_numpy(float)
    e = pair["relapsed"].to_numpy(int)
    x = (pair["arm"] == treatment).to_numpy(float)
    score = lambda b: efron_sums(t, e, x, b)[1]
    low, high = -1.0, 1.0
    while score(low) < 0:
        low *= 2
    while score(high) > 0:
        high *= 2
    beta = brentq(score, low, high, xtol=1e-14, rtol=1e-15, maxiter=500)
    ll, _, hess = efron_sums(t, e, x, beta)
    return {"treatment": treatment, "reference": reference, "coef": beta, "se": math.sqrt(-1 / hess),
            "log_likelihood": ll, "log_likelihood_null": efron_sums(t, e, x, 0.0)[0]}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (df, pairs) in inputs().items():
        df.to_csv(OUT / f"{name}.csv", index=False)
        df = pd.read_csv(OUT / f"{name}.csv")  # exactly what the Rust side reads
        arms = sorted(df["arm"].unique())
        answer = {
            "lifelines_version": lifelines.__version__,
            "km": {arm: km_answer(df[df["arm"] == arm]) for arm in arms},
        }
        if len(arms) == 2:
            a, b = (df[df["arm"] == arm] for arm in arms)
            res = logrank_test(a["days"], b["days"], a["relapsed"], b["relapsed"])
        else:
            res = multivariate_logrank_test(df["days"], df["arm"], df["relapsed"])
        answer["logrank"] = {"statistic": number(res.test_statistic), "p": number(res.p_value),
                             "df": int(res.degrees_of_freedom)}
        answer["cox_tight"] = [cox_answer(df, t, r, {"precision": 1e-12, "r_precision": 0}) for t, r in pairs]
        answer["cox_default"] = [cox_answer(df, t, r, None) for t, r in pairs]
        answer["cox_optimum"] = [cox_optimum(df, t, r) for t, r in pairs]
        with open(OUT / f"{name}.lifelines.json", "w") as f:
            json.dump(answer, f, indent=1)
            f.write("\n")
        print(name, len(df), "rows")


if __name__ == "__main__":
    main()
