"""Speed of `ketaclinic stats survival` against lifelines on the same files,
in the same run, on one core (taskset -c 0). Not part of the test suite.

    cargo build --release -p clinic-cli -p clinic-survival --bins --examples
    benches/survival/.venv/bin/python benches/survival/bench.py [--rows 10000 100000 1000000]

Cohorts (two arms, ketamine and placebo, seeded): "integer" has whole days
1-180 (heavy ties), "continuous" has days with six decimals (nearly all
distinct). For each file: our whole process (wall time, peak RSS) and
compute-only time (examples/bench_compute.rs: aggregation and analysis from
rows already in memory), and lifelines' whole process (python
lifelines_survival.py, the same report) and compute-only time (KM, log-rank,
Cox on a DataFrame already read), with batch_mode True and False, the faster
one counted. The two reports are compared number by number.
"""

import argparse
import json
import math
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ONE_CORE = ["taskset", "-c", "0"]
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", RUST_LOG="warn")


def generate(path, rows, kind, seed):
    rng = np.random.default_rng(seed)
    arm = np.where(rng.random(rows) < 0.5, "ketamine", "placebo")
    rate = np.where(arm == "ketamine", 0.006, 0.010)
    t = rng.exponential(1 / rate)
    c = rng.uniform(20, 250, rows)
    if kind == "integer":
        days = np.clip(np.ceil(np.minimum(t, c)), 1, 180).astype(int)
        relapsed = ((t <= c) & (t <= 180)).astype(int)
        day_text = days.astype(str)
    else:
        days = np.maximum(np.minimum(t, c), 1e-6)
        relapsed = (t <= c).astype(int)
        day_text = np.char.mod("%.6f", days)
    ids = np.char.add("P", np.char.zfill(np.arange(rows).astype(str), 7))
    with open(path, "w") as f:
        f.write("patient_id,arm,days,relapsed\n")
        lines = np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(ids, ","), arm), ","), day_text), ",")
        lines = np.char.add(lines, relapsed.astype(str))
        f.write("\n".join(lines.tolist()))
        f.write("\n")


def timed(cmd, stdout_path):
    """Wall seconds, peak RSS (MiB) and stderr of one run. The RSS comes from
    GNU time: a child forked from this (large) Python process would report
    the parent's pages in its own ru_maxrss."""
    with open(stdout_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "maxrss_kib=%M"] + ONE_CORE + cmd,
                              stdout=out, stderr=subprocess.PIPE, env=ENV)
        wall = time.perf_counter() - start
    err = proc.stderr.decode()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {err}")
    lines = err.strip().splitlines()
    rss = int(lines[-1].removeprefix("maxrss_kib=")) / 1024
    return wall, rss, "\n".join(lines[:-1])


def cox_optimum(path):
    """The true maximum of the Efron partial likelihood, independently of
    both programs: the score (survival.md §9, vectorised, summed with
    math.fsum) and its root by bracketing. Returns (coef, se)."""
    import pandas as pd
    from scipy.optimize import brentq
    df = pd.read_csv(path, dtype={"patient_id": str, "arm": str, "days": float, "relapsed": int})
    x = (df["arm"] == "ketamine").to_numpy(int)
    order = np.argsort(df["days"].to_numpy(), kind="stable")
    t, e, x = df["days"].to_numpy()[order], df["relapsed"].to_numpy()[order], x[order]
    times, first = np.unique(t, return_index=True)
    n = len(t)
    at_risk = n - first                                   # rows with T >= time
    at_risk_1 = np.cumsum(x[::-1])[::-1][first]           # treated among them
    d0 = np.add.reduceat((e == 1) & (x == 0), first)
    d1 = np.add.reduceat((e == 1) & (x == 1), first)
    keep = d0 + d1 > 0
    n0, n1, d0, d1 = (at_risk - at_risk_1)[keep], at_risk_1[keep], d0[keep], d1[keep]
    d = d0 + d1
    # One entry per event: its time's sums and its l / d.
    rep = np.repeat(np.arange(len(d)), d)
    l = np.arange(len(rep)) - np.repeat(np.cumsum(d) - d, d)
    w = l / d[rep]

    def parts(beta):
        phi = math.exp(beta)
        den = (n0 + n1 * phi)[rep] - w * (d0 + d1 * phi)[rep]
        ratio = (n1 * phi)[rep] - w * (d1 * phi)[rep]
        ratio = ratio / den
        return math.fsum(d1) - math.fsum(ratio), -math.fsum(ratio - ratio * ratio)

    beta = brentq(lambda b: parts(b)[0], -5, 5, xtol=1e-14, rtol=1e-15)
    return beta, math.sqrt(-1 / parts(beta)[1])


def largest_differences(ours, theirs):
    diff = {"km": 0.0, "logrank": 0.0, "cox_coef": 0.0, "cox_se_rel": 0.0, "median_mismatch": 0}
    for arm, a in ours["km"].items():
        b = theirs["km"][arm]
        assert a["timeline"] == b["timeline"], arm
        for key in ("survival", "ci_lower", "ci_upper"):
            diff["km"] = max(diff["km"], max(abs(x - y) for x, y in zip(a[key], b[key])))
        for key in ("median", "median_ci_lower", "median_ci_upper"):
            diff["median_mismatch"] += a[key] != b[key]
    diff["logrank"] = abs(ours["logrank"]["statistic"] - theirs["logrank"]["statistic"])
    diff["cox_coef"] = abs(ours["cox"]["coef"] - theirs["cox"]["coef"])
    diff["cox_se_rel"] = abs(ours["cox"]["se"] / theirs["cox"]["se"] - 1)
    return diff


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--data", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "ketaclinic-survival-bench"))
    parser.add_argument("--bin", default=str(ROOT / "target" / "release" / "ketaclinic"))
    parser.add_argument("--compute", default=str(ROOT / "target" / "release" / "examples" / "bench_compute"))
    args = parser.parse_args()
    data = pathlib.Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    results = []
    for kind in ("integer", "continuous"):
        for rows in args.rows:
            path = data / f"{kind}_{rows}.csv"
            if not path.exists():
                generate(path, rows, kind, seed=rows + (0 if kind == "integer" else 1))
            repeats = 5 if rows <= 100_000 else 3
            ours = [timed([args.bin, "stats", "survival", "--csv", str(path)], data / "ours.json") for _ in range(repeats)]
            compute = json.loads(subprocess.run(ONE_CORE + [args.compute, str(path), str(repeats)],
                                                capture_output=True, check=True, env=ENV).stdout)
            best = None
            for mode in ("true", "false"):
                runs = []
                for _ in range(2 if rows <= 100_000 else 1):
                    wall, rss, err = timed([python, str(HERE / "lifelines_survival.py"), str(path), "--batch-mode", mode],
                                           data / f"lifelines_{mode}.json")
                    runs.append((wall, rss, json.loads(err.strip().splitlines()[-1])))
                wall = statistics.median(r[0] for r in runs)
                if best is None or wall < best["wall"]:
                    best = {"mode": mode, "wall": wall, "rss": max(r[1] for r in runs),
                            "compute": statistics.median(r[2]["compute_s"] for r in runs),
                            "read": statistics.median(r[2]["read_s"] for r in runs)}
            theirs = json.loads((data / f"lifelines_{best['mode']}.json").read_text())
            ours_report = json.loads((data / "ours.json").read_text())
            diff = largest_differences(ours_report, theirs)
            optimum, optimum_se = cox_optimum(path)
            diff["ours_coef_vs_optimum"] = abs(ours_report["cox"]["coef"] - optimum)
            diff["lifelines_coef_vs_optimum"] = abs(theirs["cox"]["coef"] - optimum)
            diff["ours_se_vs_optimum_rel"] = abs(ours_report["cox"]["se"] / optimum_se - 1)
            result = {
                "kind": kind, "rows": rows, "mib": path.stat().st_size / 2**20,
                "ours_wall": statistics.median(r[0] for r in ours), "ours_rss": max(r[1] for r in ours),
                "ours_compute": compute["compute_s"], "ours_read": compute["read_s"],
                "lifelines_mode": best["mode"], "lifelines_wall": best["wall"], "lifelines_rss": best["rss"],
                "lifelines_compute": best["compute"], "lifelines_read": best["read"], "diff": diff,
            }
            results.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)

    print(f"| cohort | rows | file MiB | ketaclinic whole s | lifelines whole s | ratio | ketaclinic compute s | lifelines compute s | ratio | ketaclinic peak RSS MiB | lifelines batch_mode |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(f"| {r['kind']} | {r['rows']:,} | {r['mib']:.1f} | {r['ours_wall']:.3f} | {r['lifelines_wall']:.2f} | "
              f"{r['lifelines_wall'] / r['ours_wall']:.0f}× | {r['ours_compute']:.4f} | {r['lifelines_compute']:.3f} | "
              f"{r['lifelines_compute'] / r['ours_compute']:.0f}× | {r['ours_rss']:.0f} | {r['lifelines_mode']} |")
    print()
    print("| cohort | rows | KM max abs diff | log-rank stat abs diff | Cox coef: ours − lifelines | ours − optimum | lifelines − optimum | Cox se rel diff | medians differing |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        d = r["diff"]
        print(f"| {r['kind']} | {r['rows']:,} | {d['km']:.1e} | {d['logrank']:.1e} | {d['cox_coef']:.1e} | "
              f"{d['ours_coef_vs_optimum']:.1e} | {d['lifelines_coef_vs_optimum']:.1e} | {d['cox_se_rel']:.1e} | {d['median_mismatch']} |")


if __name__ == "__main__":
    main()
