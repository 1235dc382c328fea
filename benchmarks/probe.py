#!/usr/bin/env python
"""Linear probes (`xdc_fast.transfer.cv_probe`, 5-fold, C searched in the first fold) with the solver on one BLAS/OpenMP
thread (`linear_probe(threads=1)`, the default since 2026-12-07) against the libraries' default thread count (the
named baseline: `threads=None`, what the probes did before), same features, same run.

Features: `--n` clips in `--d` dims around `--classes` gaussian class centres (fixed seed), at two sizes by default: the
paper table's (2000 clips x 128 dims, 10 classes: four of these probes per trained model) and a larger one. Reports the
best of `--repeats` wall times, the ratio, and both accuracies (they must agree: the threads change only the order of
the sums).

    python benchmarks/probe.py [--sizes 2000x128x10 20000x512x100] [--repeats 2] [--json benchmarks/results/probe.json]
"""
import argparse, datetime, json, platform, sys
from pathlib import Path
import numpy as np
import torch
from xdc_fast.transfer import cv_probe
sys.path.insert(0, str(Path(__file__).resolve().parent))          # the other benchmarks, also when loaded by file path
from cluster import timed                                        # best-of-repeats wall time

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--sizes', nargs='+', default=['2000x128x10', '20000x512x100'], help='N x d x classes')
    p.add_argument('--repeats', type=int, default=2); p.add_argument('--json', default=None)
    a = p.parse_args()
    rows = []
    for size in a.sizes:
        n, d, k = map(int, size.split('x'))
        rng = np.random.default_rng(0)
        y = rng.integers(0, k, n)
        x = (rng.normal(size=(k, d))[y] * 0.15 + rng.normal(size=(n, d))).astype(np.float32)
        (t1, r1), (t0, r0) = [timed(lambda: cv_probe(x, y, 'linear', threads=n), a.repeats) for n in (1, None)]   # one thread, then the default
        t1, t0 = t1['wall'], t0['wall']
        rows.append(dict(n=n, d=d, classes=k, threads_1_s=t1, default_threads_s=t0, speedup=t0 / t1, acc_threads_1=r1['accuracy'], acc_default=r0['accuracy']))
        print(f"{n} x {d}, {k} classes: one thread {t1:.2f} s, default threads {t0:.2f} s: {t0 / t1:.2f}x faster; "
              f"accuracy {r1['accuracy']:.4f} vs {r0['accuracy']:.4f}", flush=True)
    out = dict(rows=rows, torch_threads=torch.get_num_threads(), machine=platform.processor() or platform.machine(),
               date=datetime.date.today().isoformat())
    if a.json: open(a.json, 'w').write(json.dumps(out, indent=1) + '\n')

if __name__ == '__main__': main()
