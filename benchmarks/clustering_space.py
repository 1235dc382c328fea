#!/usr/bin/env python
"""The clustering space, swept offline: which PCA size, whitening power and k-means restarts give XDC targets that are
pure, stable and learnable, measured in seconds on cached features instead of in training runs.

Features: frozen centre-clip features of every clip of DIR from encoders trained by the cross-modal InfoNCE alone for
`--epochs` epochs with the paper table's settings (the state xdc_fast's recipe clusters from after its warm-up). They
are computed once and cached in `--features` (npz); later sweeps read the cache.

For each setting (k, PCA size, eigen power, restarts) and each modality, on the training clips:
  nmi / purity   of the clusters (seed 1) with the label
  stability      NMI between the clusterings of seeds 1 and 2 (how much the targets move when nothing else does)
  learnability   held-out accuracy (and cross-entropy) of a logistic regression from the *other* modality's features to
                 these clusters (`fit_linear_head`, 80/20 split): what an XDC head can reach
CDC's joint space is swept too: one PCA of the concatenation (`joint='concat'`) against each modality's PCA
(`joint='each'`). Seeds, splits and k-means are fixed, so the output is a function of the features.

`--space proj` clusters the InfoNCE's projections (the projection heads' outputs, L2-normalised: the space the
cross-modal loss aligns) instead of the encoders' features; learnability still starts from the other modality's
encoder features, which is what a head reads.

    python benchmarks/clustering_space.py --data ../shared/data/avdigits --features benchmarks/_work/warmup_feats.npz \\
        --json benchmarks/results/clustering_space.json
"""
import itertools, json, platform, sys, time, warnings
from pathlib import Path
import numpy as np
import torch
from fastcore.script import call_parse
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _args import normalise_argv
from xdc_fast.cluster import cluster_features, nmi, purity, fit_linear_head, _each_pca

def learnability(x, y, k, seed=0, holdout=0.2)->tuple:
    "Held-out accuracy and cross-entropy of `fit_linear_head` from features `x` to labels `y`."
    g = np.random.default_rng(seed)
    idx = g.permutation(len(x)); n_va = int(len(x) * holdout)
    va, tr = idx[:n_va], idx[n_va:]
    x = torch.as_tensor(x).float()
    y = torch.as_tensor(y).long()
    w, b = fit_linear_head(x[tr], y[tr], k, seed=seed)
    logits = x[va] @ w.T + b
    return float((logits.argmax(1) == y[va]).float().mean()), float(torch.nn.functional.cross_entropy(logits, y[va]))

def sweep_one(x, other, truth, k, pca_dim, eigen_power, n_redo, pca=None)->dict:
    "Purity, NMI, stability and learnability of one clustering setting."
    c1 = cluster_features(x, k, pca_dim=pca_dim, seed=1, eigen_power=eigen_power, n_redo=n_redo, pca=pca)
    c2 = cluster_features(x, k, pca_dim=pca_dim, seed=2, eigen_power=eigen_power, n_redo=n_redo, pca=pca)
    acc, ce = learnability(other, c1['labels'].numpy(), k)
    return dict(nmi=nmi(truth, c1['labels']), purity=purity(c1['labels'], truth), stability=nmi(c1['labels'], c2['labels']),
                learn_acc=acc, learn_ce=ce, chance_ce=float(np.log(k)))

def warmup_features(data, epochs, seed, cache):
    "Frozen features (video, audio), their InfoNCE projections (L2-normalised; None at random init), labels and split of every clip after `epochs` of the cross-modal InfoNCE (cached)."
    if cache and Path(cache).exists():
        z = np.load(cache)
        return z['fv'], z['fa'], z['y'], z['train'], (z['pv'] if 'pv' in z else None), (z['pa'] if 'pa' in z else None)
    import paper_table as pt
    from xdc_fast.data.block import AVDataLoaders
    cfg = dict(epochs=epochs, lr=2e-3, bs=64, k=16, recluster_every=1, video_arch='r2plus1d_tiny', audio_arch='resnet_tiny_audio',
               video_norm='clip', audio_norm='cmvn', crop_scale=(0.6, 1.), channels_last=True)
    dls = AVDataLoaders.from_folder(data, bs=64, flip=False, crop_scale=cfg['crop_scale'], progress=False, cache=True, n_frames=2, fps=4, size=32, crop=32)
    model = pt.train(dls, 'contrastive', cfg, seed) if epochs else pt.untrained(cfg, seed)   # 0 epochs: random init, what training from scratch clusters first
    fv, fa, seen = pt.features(model, dls)
    split = np.array([Path(f).relative_to(data).parts[0] for f in dls.files])
    y, train = dls.labels.numpy(), (split == 'train') & seen
    proj = getattr(model, 'proj', None)
    if proj is not None:
        with torch.no_grad(): pv, pa = (torch.nn.functional.normalize(proj[m].eval()(torch.from_numpy(f)), dim=1).numpy() for m, f in (('v', fv), ('a', fa)))
    else: pv = pa = None
    if cache:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, fv=fv, fa=fa, y=y, train=train, **(dict(pv=pv, pa=pa) if pv is not None else {}))
    return fv, fa, y, train, pv, pa

if __name__ == '__main__': normalise_argv()

@call_parse
def main(data:str='../shared/data/avdigits',  # folder laid out like AV-digits: {train,valid}/{label}/*.mp4
         features:str='benchmarks/_work/warmup_feats.npz',  # feature cache (npz): read if it exists, written otherwise
         epochs:int=13,  # InfoNCE epochs before the features are taken (the recipe's warm-up at the table's budget; 0: random init, what training from scratch clusters first)
         seed:int=0,  # the InfoNCE run's seed
         ks:str='16,32',  # cluster counts, comma-separated
         pca_dims:str='0,8,16,32,64',  # PCA sizes (0: none, L2 only), comma-separated
         eigen_powers:str='-0.5,0',  # PCA scaling (-0.5 whitens, 0 keeps the variances), comma-separated
         n_redos:str='1,5',  # k-means restarts, comma-separated
         space:str='features',  # what is clustered: 'features' (the encoders': what xdc_fast clusters) or 'proj' (the InfoNCE's projections, L2-normalised)
         json:str=None,  # write every row here
        ):
    "Sweep the clustering space on cached warm-up features: purity, NMI, stability and learnability per setting."
    t0 = time.time()
    if space not in ('features', 'proj'): raise SystemExit(f"--space must be 'features' or 'proj', got {space!r}")
    fv, fa, y, train, pv, pa = warmup_features(data, epochs, seed, features)
    if space == 'proj' and pv is None: raise SystemExit(f"{features}: has no projections (random init, or a cache written before --space existed); pass another --features path")
    fv, fa, y = fv[train], fa[train], y[train]
    cv, ca = (pv[train], pa[train]) if space == 'proj' else (fv, fa)   # what is clustered; the heads read fv, fa
    both, both_heads = np.concatenate([cv, ca], 1), np.concatenate([fv, fa], 1)   # CDC's space, and what its heads read
    print(f"{len(y)} training clips, features {fv.shape[1]} (video) / {fa.shape[1]} (audio) ({time.time() - t0:.0f} s)", flush=True)
    num = lambda s, f: [f(v) for v in s.split(',') if v.strip()]
    rows = []
    hdr = f"{'k':>3} {'pca':>4} {'pow':>5} {'redo':>4} | " + ' | '.join(f"{m + ': nmi  pur  stab learn (ce)':>36}" for m in ('video', 'audio', 'cdc'))
    print(hdr, flush=True)
    powers = num(eigen_powers, float)
    for k, d, p, r in itertools.product(num(ks, int), num(pca_dims, int), powers, num(n_redos, int)):
        if d == 0 and p != powers[0]: continue                          # no PCA: the power does not apply
        row = dict(k=k, pca_dim=d, eigen_power=p, n_redo=r)
        row['video'] = sweep_one(cv, fa, y, k, d, p, r)                 # video clusters, learned from audio (XDC's audio head)
        row['audio'] = sweep_one(ca, fv, y, k, d, p, r)
        for joint in ('concat', 'each'):
            pca = _each_pca(dict(v=torch.from_numpy(cv), a=torch.from_numpy(ca)), torch.arange(len(y)), d or None, p) if joint == 'each' and d else None
            row[f'cdc_{joint}'] = sweep_one(both, both_heads, y, k, d, p, r, pca=pca)
        rows.append(row)
        cell = lambda m: f"{m['nmi']:.3f} {m['purity']:.3f} {m['stability']:.3f} {m['learn_acc']:.3f} ({m['learn_ce']:.2f})"
        print(f"{k:>3} {d:>4} {p:>5} {r:>4} | {cell(row['video'])} | {cell(row['audio'])} | {cell(row['cdc_concat'])} / each {row['cdc_each']['nmi']:.3f}", flush=True)
    if json:
        Path(json).parent.mkdir(parents=True, exist_ok=True)
        Path(json).write_text(__import__('json').dumps(dict(rows=rows, config=dict(data=str(data), epochs=epochs, seed=seed, space=space, n_train=int(len(y)),
            machine=f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads", date=time.strftime('%Y-%m-%d'),
            seconds=round(time.time() - t0))), indent=1))
    print(f"took {time.time() - t0:.0f} s")
