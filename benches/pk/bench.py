"""Speed of `ketaclinic pk simulate --subjects-in FILE` against the numpy peer
(pk_numpy.py) on the same subjects file, in the same run, both on one core
(taskset -c 0). Not part of the test suite.

    cargo build --release -p clinic-cli
    benches/pk/.venv/bin/python benches/pk/bench.py [--subjects 100000] [--repeats 5]

The subjects file (Domino, CV 0.3, seeded numpy generator) is written to
$TMPDIR/ketaclinic-pk-bench/. Each side is timed as a whole process (best of
--repeats, wall clock): reading the file, simulating 361 time points,
percentiles, writing the JSON. The two reports are compared number by number:
within 1e-9 relative, with an absolute floor of 1e-6 of the peak.
"""

import argparse
import json
import math
import os
import pathlib
import subprocess
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ONE_CORE = ["taskset", "-c", "0"]
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", RUST_LOG="warn")
REGIMEN = ["--dose-mg-per-kg", "0.5", "--minutes", "40", "--weight-kg", "70", "--until", "360", "--step", "1"]
# Domino et al. 1982 (reference/clinical.md §5.1), the typical subject.
DOMINO = [0.063, 0.4381, 0.5921, 0.2470, 0.5900, 0.0146]


def generate(path, n, seed, cv=0.3):
    rng = np.random.default_rng(seed)
    omega = math.sqrt(math.log(1 + cv * cv))
    subjects = np.asarray(DOMINO) * np.exp(omega * rng.standard_normal((n, 6)))
    np.savetxt(path, subjects, delimiter=",", fmt="%.17g", header="v1,k10,k12,k21,k13,k31", comments="")


def best_time(cmd, repeats):
    """The best wall time of `repeats` runs, and that run's output."""
    best, out = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        res = subprocess.run(ONE_CORE + cmd, capture_output=True, env=ENV, check=True)
        elapsed = time.perf_counter() - start
        if elapsed < best:
            best, out = elapsed, res
    return best, out


def compare(ours, theirs):
    peak = max(theirs["conc_percentiles_ng_ml"]["p95"])
    worst = 0.0
    pairs = [(ours["cmax_percentiles_ng_ml"][k], theirs["cmax_percentiles_ng_ml"][k]) for k in ("p5", "p50", "p95")]
    for k in ("p5", "p50", "p95"):
        pairs += list(zip(ours["conc_percentiles_ng_ml"][k], theirs["conc_percentiles_ng_ml"][k], strict=True))
    for a, b in pairs:
        allowed = max(1e-9 * abs(b), 1e-6 * peak * 1e-9)
        if abs(a - b) > allowed:
            raise SystemExit(f"disagree: {a} vs {b}")
        if abs(b) >= 1e-6 * peak:
            worst = max(worst, abs(a - b) / abs(b))
    return len(pairs), worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    work = pathlib.Path(tempfile.gettempdir()) / "ketaclinic-pk-bench"
    work.mkdir(exist_ok=True)
    path = work / f"subjects-{args.subjects}.csv"
    generate(path, args.subjects, seed=20261127)
    ours_cmd = [str(ROOT / "target/release/ketaclinic"), "pk", "simulate", *REGIMEN, "--subjects-in", str(path)]
    numpy_cmd = [str(HERE / ".venv/bin/python"), str(HERE / "pk_numpy.py"), str(path), *REGIMEN]
    load_before = os.getloadavg()[0]
    ours_s, ours = best_time(ours_cmd, args.repeats)
    numpy_s, theirs = best_time(numpy_cmd, args.repeats)
    load_after = os.getloadavg()[0]
    n_values, worst = compare(json.loads(ours.stdout), json.loads(theirs.stdout))
    numpy_compute = theirs.stderr.decode().strip()
    print(f"subjects {args.subjects}, 361 time points, {n_values} numbers compared, worst relative difference {worst:.3e}")
    print(f"ketaclinic (whole process) {ours_s:.3f} s")
    print(f"numpy      (whole process) {numpy_s:.3f} s   ({numpy_compute} in the same run, without reading the file)")
    print(f"ratio numpy / ketaclinic: {numpy_s / ours_s:.1f}x")
    print(f"load average (1 min) {load_before:.2f} before, {load_after:.2f} after; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
