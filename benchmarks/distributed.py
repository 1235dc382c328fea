#!/usr/bin/env python
"""Distributed pretraining on the CPU: `xdc_fast pretrain` with 2 ranks (`torchrun --nproc_per_node 2`, gloo) against
the same command in 1 process, same data, same run.

Reports the wall time of each run and whether the 2 ranks agree (labels of every epoch, final weights), and how the
2-rank labels compare with the 1-process ones (NMI per epoch). On a 2-core machine two ranks share the cores, so the
time ratio measures the cost of the collectives and of the second process, not a speed-up; on N GPUs an epoch is
about N times shorter (each rank takes 1/N of the sampled epoch) plus the feature gather and the broadcasts.

    python benchmarks/distributed.py [--clips-per-class 8] [--epochs 2] [--json benchmarks/results/distributed.json]
"""
import argparse, datetime, json, os, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = HERE.parent/'tests'/'distributed_worker.py'


def run(n_proc, data, out, rec, epochs):
    args = ['--variant', 'xdc', '--n-clusters', '3,3', '--video-arch', 'r2plus1d_small', '--audio-arch', 'resnet_small_audio', '--bs', '4',
            '--workers', '0', '--n-frames', '4', '--size', '32', '--crop', '32', '--pca-dim', '8', '--epochs', str(epochs)]
    launch = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(n_proc)] if n_proc > 1 else [sys.executable]
    t0 = time.perf_counter()
    r = subprocess.run(launch + [str(WORKER), 'cli', str(rec), '--', str(data), '--out', str(out), *args], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore'), timeout=900)
    if r.returncode: sys.exit(f"{n_proc}-process run failed:\n{r.stderr[-4000:]}")
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--clips-per-class', type=int, default=8); p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--json', default=None)
    a = p.parse_args()
    import torch
    from xdc_fast.synthetic import make_synthetic_av
    from xdc_fast.cluster import nmi
    tmp = Path(tempfile.mkdtemp())
    data = make_synthetic_av(tmp/'data', n_classes=3, clips_per_class=a.clips_per_class, seed=0)
    (tmp/'rec2').mkdir(); (tmp/'rec1').mkdir()
    t2 = run(2, data, tmp/'run2', tmp/'rec2', a.epochs)
    t1 = run(1, data, tmp/'run1', tmp/'rec1', a.epochs)
    tg = lambda d, r, e: torch.load(tmp/d/f'targets_rank{r}_epoch{e}.pt')
    same_labels = [bool(torch.equal(tg('rec2', 0, e), tg('rec2', 1, e))) for e in range(a.epochs)]
    m0, m1 = (torch.load(tmp/'rec2'/f'model_rank{r}.pt') for r in (0, 1))
    same_weights = all(torch.equal(m0[k], m1[k]) for k in m0)
    vs_one = [round(nmi(tg('rec2', 0, e)[:, 0], tg('rec1', 0, e)[:, 0]), 3) for e in range(a.epochs)]
    res = dict(date=datetime.date.today().isoformat(), cpus=os.cpu_count(), clips=3 * a.clips_per_class, epochs=a.epochs,
               seconds_2_ranks=round(t2, 1), seconds_1_process=round(t1, 1), ratio=round(t2 / t1, 2), ranks_same_labels_per_epoch=same_labels,
               ranks_same_weights=same_weights, nmi_2_ranks_vs_1_process_per_epoch=vs_one)
    print(f"2 ranks {t2:.1f} s vs 1 process {t1:.1f} s (whole command, {a.epochs} epochs, {3 * a.clips_per_class} clips): {t2 / t1:.2f}x")
    print(f"ranks agree: labels per epoch {same_labels}, weights {same_weights}; NMI of the 2-rank labels with the 1-process ones per epoch: {vs_one}")
    if a.json: Path(a.json).write_text(json.dumps(res, indent=1))


if __name__ == '__main__': main()
