"""The lifelines equivalent of `ketaclinic stats survival --csv FILE`, for
the benchmark: the same report (survival.md's JSON) computed with lifelines.

    python lifelines_survival.py FILE [--batch-mode true|false|auto] > report.json

Prints phase timings as one JSON line on stderr: read_s (pandas.read_csv),
compute_s (Kaplan-Meier per arm, log-rank, Cox), write_s (the JSON).
"""

import argparse
import json
import math
import sys
import time

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
from lifelines.utils import median_survival_times
from scipy import stats


def number(x):
    x = float(x)
    return x if math.isfinite(x) else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("--batch-mode", choices=["true", "false", "auto"], default="auto")
    args = parser.parse_args()
    batch_mode = {"true": True, "false": False, "auto": None}[args.batch_mode]

    t0 = time.perf_counter()
    df = pd.read_csv(args.csv, dtype={"patient_id": str, "arm": str, "days": float, "relapsed": int})
    t1 = time.perf_counter()

    arms = sorted(df["arm"].unique())
    km = {}
    for arm in arms:
        sub = df[df["arm"] == arm]
        kmf = KaplanMeierFitter().fit(sub["days"], sub["relapsed"])
        table = kmf.event_table
        ci = kmf.confidence_interval_
        median_ci = median_survival_times(ci)
        km[arm] = {
            "n": int(len(sub)),
            "events": int(sub["relapsed"].sum()),
            "median": number(kmf.median_survival_time_),
            "median_ci_lower": number(median_ci.iloc[0, 0]),
            "median_ci_upper": number(median_ci.iloc[0, 1]),
            "timeline": kmf.survival_function_.index.to_numpy(float).tolist(),
            "survival": kmf.survival_function_.iloc[:, 0].to_numpy(float).tolist(),
            "ci_lower": ci.iloc[:, 0].to_numpy(float).tolist(),
            "ci_upper": ci.iloc[:, 1].to_numpy(float).tolist(),
            "at_risk": table["at_risk"].to_numpy(int).tolist(),
            "observed": table["observed"].to_numpy(int).tolist(),
            "censored": table["censored"].to_numpy(int).tolist(),
        }
    logrank = cox = None
    if len(arms) == 2:
        a, b = (df[df["arm"] == arm] for arm in arms)
        res = logrank_test(a["days"], b["days"], a["relapsed"], b["relapsed"])
        logrank = {"statistic": number(res.test_statistic), "p": number(res.p_value), "df": 1,
                   "log10_p": number(stats.chi2.logsf(res.test_statistic, 1) / math.log(10))}
        treatment = "ketamine" if "ketamine" in arms else arms[1]
        reference = arms[0] if treatment == arms[1] else arms[1]
        data = pd.DataFrame({"days": df["days"], "relapsed": df["relapsed"],
                             "x": (df["arm"] == treatment).astype(float)})
        cph = CoxPHFitter().fit(data, "days", "relapsed", batch_mode=batch_mode)
        s = cph.summary.loc["x"]
        lr = cph.log_likelihood_ratio_test()
        cox = {"treatment": treatment, "reference": reference, "coef": number(s["coef"]),
               "hr": number(s["exp(coef)"]), "se": number(s["se(coef)"]),
               "coef_ci_lower": number(s["coef lower 95%"]), "coef_ci_upper": number(s["coef upper 95%"]),
               "hr_ci_lower": number(s["exp(coef) lower 95%"]), "hr_ci_upper": number(s["exp(coef) upper 95%"]),
               "z": number(s["z"]), "p": number(s["p"]),
               "log10_p": number(stats.chi2.logsf(s["z"] ** 2, 1) / math.log(10)),
               "log_likelihood": number(cph.log_likelihood_), "log_likelihood_null": number(cph._ll_null_),
               "lr_test_statistic": number(lr.test_statistic), "lr_test_p": number(lr.p_value),
               "n": int(len(df)), "events": int(df["relapsed"].sum())}
    elif len(arms) > 2:
        res = multivariate_logrank_test(df["days"], df["arm"], df["relapsed"])
        logrank = {"statistic": number(res.test_statistic), "p": number(res.p_value),
                   "df": int(res.degrees_of_freedom),
                   "log10_p": number(stats.chi2.logsf(res.test_statistic, res.degrees_of_freedom) / math.log(10))}
    t2 = time.perf_counter()
    json.dump({"km": km, "logrank": logrank, "cox": cox}, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
    t3 = time.perf_counter()
    print(json.dumps({"read_s": t1 - t0, "compute_s": t2 - t1, "write_s": t3 - t2}), file=sys.stderr)


if __name__ == "__main__":
    main()
