"""The numpy peer of `ketaclinic pk simulate --subjects-in FILE`: the same exact
solution (eigenvalues in closed form, each mode advanced exactly over every
stretch of constant rate), vectorised over subjects, and the same report
fields (type-7 percentiles). Prints the JSON on stdout and the compute time
(without reading the file) on stderr.

    python pk_numpy.py SUBJECTS.csv --dose-mg-per-kg 0.5 --minutes 40 --weight-kg 70 [--until 360 --step 1]
"""

import argparse
import json
import sys
import time

import numpy as np


def read_subjects(path):
    with open(path) as f:
        header = f.readline().strip()
        if header != "v1,k10,k12,k21,k13,k31":
            raise SystemExit(f"{path}: bad header {header!r}")
        data = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    return data


def modes(p):
    """alpha (3, N) and coef (3, N), as clinic-pk's modes.rs."""
    v1, k10, k12, k21, k13, k31 = p.T
    n = len(v1)
    alpha = np.zeros((3, n))
    coef = np.zeros((3, n))
    two = (k13 == 0.0) & (k31 == 0.0)
    three = ~two
    if two.any():
        s = k10[two] + k12[two] + k21[two]
        prod = k10[two] * k21[two]
        a1 = 0.5 * (s + np.sqrt(np.maximum(s * s - 4.0 * prod, 0.0)))
        a2 = prod / a1
        alpha[0, two], alpha[1, two] = a1, a2
        coef[0, two] = (k21[two] - a1) / (a2 - a1)
        coef[1, two] = (k21[two] - a2) / (a1 - a2)
    if three.any():
        K10, K12, K21, K13, K31 = k10[three], k12[three], k21[three], k13[three], k31[three]
        A2 = K10 + K12 + K13 + K21 + K31
        A1 = K21 * (K10 + K13) + K31 * (K10 + K12) + K21 * K31
        A0 = K10 * K21 * K31
        shift = A2 / 3.0
        p_ = A1 - A2 * A2 / 3.0
        q_ = -2.0 * A2 * A2 * A2 / 27.0 + A2 * A1 / 3.0 - A0
        radius = 2.0 * np.sqrt(np.maximum(-p_ / 3.0, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            cos_arg = np.where(p_ < 0.0, np.clip(3.0 * q_ / (2.0 * p_) * np.sqrt(-3.0 / p_), -1.0, 1.0), 0.0)
        phi = np.arccos(cos_arg) / 3.0
        tpt = 2.0 * np.pi / 3.0
        roots = np.stack([shift + radius * np.cos(phi - tpt * k) for k in (0.0, 1.0, 2.0)])
        for _ in range(2):
            value = ((roots - A2) * roots + A1) * roots - A0
            slope = (3.0 * roots - 2.0 * A2) * roots + A1
            roots = roots - np.where(slope != 0.0, value / np.where(slope != 0.0, slope, 1.0), 0.0)
        roots = -np.sort(-roots, axis=0)
        alpha[:, three] = roots
        for i in range(3):
            j, k = (i + 1) % 3, (i + 2) % 3
            coef[i, three] = (K21 - roots[i]) * (K31 - roots[i]) / ((roots[j] - roots[i]) * (roots[k] - roots[i]))
    return alpha, coef


def schedule(phases, times):
    """Steps ("advance", duration index, rate per kg) or ("emit",), as schedule.rs."""
    intervals, start = [], 0.0
    for dose, minutes in phases:
        intervals.append((start, start + minutes, dose / minutes))
        start += minutes
    durations, steps, now, idx, last = [], [], 0.0, 0, 0
    for target in times:
        while now < target:
            while idx < len(intervals) and intervals[idx][1] <= now:
                idx += 1
            end, rate = (min(intervals[idx][1], target), intervals[idx][2]) if idx < len(intervals) else (target, 0.0)
            d = end - now
            if last < len(durations) and abs(d - durations[last]) <= 1e-12 * durations[last]:
                di = last
            else:
                di = next((i for i, k in enumerate(durations) if abs(d - k) <= 1e-12 * k), None)
                if di is None:
                    durations.append(d)
                    di = len(durations) - 1
            last = di
            steps.append(("advance", di, rate))
            now = end
        steps.append(("emit",))
    return durations, steps


def percentiles_rows(matrix, qs):
    """Type-7 percentiles of each row (numpy's default rule and lerp), with one partition for all ranks."""
    n = matrix.shape[1]
    h = (n - 1) * np.asarray(qs)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    t = h - lo
    part = np.partition(matrix, np.unique(np.concatenate([lo, hi])), axis=1)
    a, b = part[:, lo], part[:, hi]
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1.0 - t), a + diff * t)


def simulate(subjects, phases, weight_kg, times):
    alpha, coef = modes(subjects)
    v1 = subjects[:, 0]
    durations, steps = schedule(phases, times)
    n = subjects.shape[0]
    decay, gain = [], []
    for d in durations:
        e = np.exp(-alpha * d)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(coef == 0.0, 0.0, coef / alpha * -np.expm1(-alpha * d))
        decay.append(e)
        gain.append(g * (1000.0 / (v1 * weight_kg)))
    y = np.zeros((3, n))
    tmp = np.empty((3, n))
    conc = np.empty((len(times), n))
    point = 0
    for step in steps:
        if step[0] == "advance":
            _, di, rate = step
            r = rate * weight_kg
            np.multiply(decay[di], y, out=y)
            if r != 0.0:
                np.multiply(gain[di], r, out=tmp)
                np.add(y, tmp, out=y)
        else:
            row = conc[point]
            np.add(y[0], y[1], out=row)
            np.add(row, y[2], out=row)
            np.maximum(row, 0.0, out=row)
            point += 1
    qs = [0.05, 0.5, 0.95]
    band = percentiles_rows(conc, qs)
    cmax = conc.max(axis=0)
    cmax_p = percentiles_rows(cmax[None, :], qs)[0]
    return band, cmax_p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("subjects")
    ap.add_argument("--dose-mg-per-kg", type=float, required=True)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--weight-kg", type=float, required=True)
    ap.add_argument("--until", type=float, default=360.0)
    ap.add_argument("--step", type=float, default=1.0)
    args = ap.parse_args()
    subjects = read_subjects(args.subjects)
    n_steps = int(round(args.until / args.step))
    times = [i * args.step for i in range(n_steps + 1)]
    start = time.perf_counter()
    band, cmax_p = simulate(subjects, [(args.dose_mg_per_kg, args.minutes)], args.weight_kg, times)
    compute_s = time.perf_counter() - start
    out = {
        "n_subjects": int(subjects.shape[0]),
        "times_min": times,
        "cmax_percentiles_ng_ml": dict(zip(["p5", "p50", "p95"], cmax_p.tolist())),
        "conc_percentiles_ng_ml": {"p5": band[:, 0].tolist(), "p50": band[:, 1].tolist(), "p95": band[:, 2].tolist()},
    }
    json.dump(out, sys.stdout)
    print(f"compute_s {compute_s:.6f}", file=sys.stderr)


if __name__ == "__main__":
    main()
