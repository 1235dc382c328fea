#!/usr/bin/env python
"""Large-N clustering: memory and time of `cluster_features` on `--n` x `--d` features kept as float16, against the
float32 all-in-memory path (the named baseline), same data, same run.

Data: `--n` points around `--blobs` gaussian blobs in `--d` dims (fixed seed), written chunk by chunk straight into
a float16 matrix (in memory, or an `np.memmap` file with `--memmap`), true blob id kept for NMI.

Methods (each in its own subprocess, so its peak resident memory, `ru_maxrss`, is its own):
  large_n    cluster_features(x16, k, pca_dim=256, n_iter=20, max_points_per_centroid=--mppc, chunk=65536)
             float16 features; PCA and centroids from a sample of k*mppc points; every point projected and
             assigned in chunks
  float32    cluster_features(x32, k, pca_dim=256, n_iter=20): float32 features, PCA and k-means on every point
             (the library's small-N default; `--skip-baseline` leaves it out)
Memory is the peak resident set while generating and clustering (sampled every 5 ms by a thread; `ru_maxrss` is
useless here because importing torch and faiss already peaks above the float16 matrix of smaller runs) minus the
resident set after imports and a tiny warm-up clustering (the interpreter, torch, faiss, their thread pools), against the float16 matrix's size; the bound is peak <= 1.5x the float16 matrix + the model (PCA + centroids).

    python benchmarks/large_n.py [--n 1000000] [--d 512] [--k 256] [--mppc 64] [--memmap] [--json benchmarks/results/large_n.json]
"""
import argparse, datetime, json, os, platform, resource, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _rss_mb():
    "Current resident set (MB), from /proc."
    with open('/proc/self/statm') as f: return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


class PeakRSS:
    "Peak resident set (MB) while the block runs, sampled every `every` s by a thread (the GIL is free inside numpy/faiss/torch)."
    def __init__(self, every=0.005): self.every, self.peak = every, 0.
    def _watch(self):
        while not self.done.is_set(): self.peak = max(self.peak, _rss_mb()); time.sleep(self.every)
    def __enter__(self):
        import threading
        self.done = threading.Event(); self.peak = _rss_mb()
        self.thread = threading.Thread(target=self._watch, daemon=True); self.thread.start()
        return self
    def __exit__(self, *exc):
        self.done.set(); self.thread.join(); self.peak = max(self.peak, _rss_mb())


def make_features(n, d, n_blobs, dtype, path=None, seed=0, chunk=8192):
    "`(x (n,d) dtype, blob id (n,))`, generated chunk by chunk (never a full float32 copy when dtype is float16)."
    import numpy as np
    rng = np.random.default_rng(seed)
    spectrum = (1.0 / np.sqrt(1 + np.arange(d) / 16)).astype(np.float32)
    centres = rng.standard_normal((n_blobs, d), dtype=np.float32) * spectrum * 2.0
    y = rng.integers(0, n_blobs, n)
    x = np.lib.format.open_memmap(path, mode='w+', dtype=dtype, shape=(n, d)) if path else np.empty((n, d), dtype)
    for i in range(0, n, chunk):
        j = min(n, i + chunk)
        x[i:j] = centres[y[i:j]] + rng.standard_normal((j - i, d), dtype=np.float32) * spectrum
    if path: x.flush(); x = np.load(path, mmap_mode='r')          # read-only map: pages stay in the page cache
    return x, y


def child(args):
    "One method in this process: generate, cluster, report time, NMI and memory as JSON on stdout."
    import numpy as np, torch, faiss
    from sklearn.metrics import normalized_mutual_info_score
    from xdc_fast.cluster import cluster_features
    torch.set_num_threads(args.threads); faiss.omp_set_num_threads(args.threads)
    warm = np.random.default_rng(1).standard_normal((4096, args.d), dtype=np.float32)   # load the libraries' lazy parts and thread pools
    cluster_features(warm, 16, pca_dim=64, n_iter=2, gpu=False); cluster_features(warm.astype(np.float16), 16, pca_dim=64, n_iter=2, gpu=False, max_points_per_centroid=64)
    del warm
    base = _rss_mb()
    path = Path(tempfile.mkdtemp())/'feats.npy' if args.memmap and args.method == 'large_n' else None
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        x, y = make_features(args.n, args.d, args.blobs, np.float16 if args.method == 'large_n' else np.float32, path)
        t_gen = time.perf_counter() - t0
        data_mb = x.nbytes / 2**20
        t0 = time.perf_counter()
        if args.method == 'large_n': c = cluster_features(x, args.k, pca_dim=256, n_iter=20, seed=0, gpu=False, max_points_per_centroid=args.mppc)
        else: c = cluster_features(torch.from_numpy(x), args.k, pca_dim=256, n_iter=20, seed=0, gpu=False)
        t_cluster = time.perf_counter() - t0
    peak = mem.peak
    model_mb = sum(c[k].numel() * c[k].element_size() for k in ('centroids', 'A', 'b')) / 2**20
    print(json.dumps(dict(method=args.method, seconds=round(t_cluster, 2), generate_seconds=round(t_gen, 2),
                          nmi=round(normalized_mutual_info_score(y, c['labels'].numpy()), 4), rss_after_imports_mb=round(base),
                          peak_rss_mb=round(peak), peak_over_imports_mb=round(peak - base), matrix_mb=round(data_mb),
                          float16_matrix_mb=round(args.n * args.d * 2 / 2**20), model_mb=round(model_mb, 1), memmap=bool(path))))


def run(method, args):
    cmd = [sys.executable, __file__, '--child', method, '--n', str(args.n), '--d', str(args.d), '--k', str(args.k), '--mppc', str(args.mppc),
           '--blobs', str(args.blobs), '--threads', str(args.threads)] + (['--memmap'] if args.memmap else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode: sys.exit(f"{method} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n', type=int, default=1_000_000); p.add_argument('--d', type=int, default=512)
    p.add_argument('--k', type=int, default=256); p.add_argument('--mppc', type=int, default=64)
    p.add_argument('--blobs', type=int, default=256); p.add_argument('--threads', type=int, default=2)
    p.add_argument('--memmap', action='store_true'); p.add_argument('--skip-baseline', action='store_true')
    p.add_argument('--json', default=None); p.add_argument('--child', default=None)
    args = p.parse_args()
    if args.child: args.method = args.child; return child(args)
    res = [run('large_n', args)] + ([] if args.skip_baseline else [run('float32', args)])
    f16 = res[0]['float16_matrix_mb']
    print(f"{args.n} x {args.d} features, k={args.k}, {args.threads} threads; float16 matrix {f16} MB")
    print(f"{'method':9s} {'seconds':>8s} {'NMI':>6s} {'peak RSS':>9s} {'over imports':>13s} {'/ float16 matrix':>17s}")
    for r in res: print(f"{r['method']:9s} {r['seconds']:8.1f} {r['nmi']:6.3f} {r['peak_rss_mb']:7d}MB {r['peak_over_imports_mb']:11d}MB {r['peak_over_imports_mb'] / f16:16.2f}x")
    bound = 1.5 * f16 + res[0]['model_mb']
    ok = res[0]['peak_over_imports_mb'] <= bound
    print(f"large_n peak over imports {res[0]['peak_over_imports_mb']} MB vs bound 1.5 x {f16} + model {res[0]['model_mb']} = {bound:.0f} MB: {'OK' if ok else 'OVER'}")
    if len(res) > 1:
        print(f"vs float32 all-in-memory: memory {res[1]['peak_over_imports_mb'] / res[0]['peak_over_imports_mb']:.2f}x less, "
              f"time {res[1]['seconds'] / res[0]['seconds']:.2f}x faster, NMI {res[0]['nmi']:.3f} vs {res[1]['nmi']:.3f}")
    if args.json:
        out = dict(date=datetime.date.today().isoformat(), machine=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                   args={k: v for k, v in vars(args).items() if k not in ('json', 'child')}, results=res, bound_mb=bound, within_bound=ok)
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == '__main__': main()
