#!/usr/bin/env python
"""Why cross-modal clustering stalls on AV-digits: what the first clustering of untrained encoders knows, and whether the
video encoder can learn the digit at all.

1. Untrained encoders (seed 0), centre-clip features of the training split (`extract_features`), clustered as the
   first epoch of `xdc_learner` does (`cluster_features`: PCA-whitening, k-means). For each clustering: the mutual
   information (nats) of its labels with the digit, the speaker and the background hue, *minus* the same with the
   labels shuffled (the finite-sample bias, large at k=64 with 1800 clips), and the same excess between the video and
   the audio clusterings. XDC can only start if one modality's clusters carry information that the other modality can
   predict: here, only the digit.
2. Supervised sanity check: the small R(2+1)D trained on the true digit for `--epochs` (fastai `fit_one_cycle`, Adam),
   with the dataset-level normalisation (baseline, `input_norm=None`) and with per-clip standardisation
   (`input_norm='clip'`); valid accuracy of the classifier.

    python benchmarks/avdigits_diagnosis.py --data ../shared/data/avdigits --json benchmarks/results/avdigits_diagnosis.json
"""
import json as _json, sys, time
from pathlib import Path
import numpy as np
import torch
from fastcore.script import call_parse
from sklearn.metrics import mutual_info_score
from xdc_fast.cluster import cluster_features
from xdc_fast.models import get_encoder
from xdc_fast.transfer import extract_features

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))     # the repository root: `benchmarks` is a package
from benchmarks import paper_table as pt

def excess_mi(a, b, seed=0)->float:
    "Mutual information of two labelings (nats) minus its value with `b` shuffled."
    return float(mutual_info_score(a, b) - mutual_info_score(a, np.random.default_rng(seed).permutation(b)))

sys.path.insert(0, str(Path(__file__).resolve().parent))          # the other benchmarks, also when loaded by file path
from _args import normalise_argv
if __name__ == '__main__': normalise_argv()                    # --k-sweep or --k_sweep, with fastcore 1 or 2

@call_parse
def main(data:str='../shared/data/avdigits',  # folder laid out like avdigits
         json:str=None,  # write results here (JSON)
         epochs:int=3,  # epochs of the supervised check
         workers:int=2):  # decoding worker processes
    t_start, data = time.time(), Path(data)
    clip = dict(n_frames=4, fps=4, size=32, crop=32)
    files = sorted((data/'train').rglob('*.mp4'))
    digit = np.array([int(Path(f).parent.name) if Path(f).parent.name.isdigit() else hash(Path(f).parent.name) for f in files])
    nuis = pt.nuisance_labels(data, files)
    targets = dict(digit=digit, **nuis)
    out = dict(first_clustering={}, supervised={})
    labels = {}
    for name, arch, modality, norm in (('video (dataset norm)', 'r2plus1d_small', 'video', None), ('video (clip norm)', 'r2plus1d_small', 'video', 'clip'),
                                       ('audio (batch norm)', 'resnet_small_audio', 'audio', 'batch'), ('audio (CMVN)', 'resnet_small_audio', 'audio', 'cmvn')):
        torch.manual_seed(0)
        f = extract_features(get_encoder(arch, input_norm=norm), files, modality, clip_cfg=clip, num_workers=workers, progress=False).feats
        for k in (16, 64):
            l = cluster_features(f, k, seed=0)['labels'].numpy(); labels[name, k] = l
            row = {t: excess_mi(l, y) for t, y in targets.items()}
            out['first_clustering'][f'{name}, k={k}'] = row
            print(f"{name:22s} k={k:3d}  excess MI (nats) " + '  '.join(f"{t} {v:+.3f}" for t, v in row.items()), flush=True)
    for k in (16, 64):
        for vn in ('video (dataset norm)', 'video (clip norm)'):
            for an in ('audio (batch norm)', 'audio (CMVN)'):
                v = excess_mi(labels[vn, k], labels[an, k])
                out['first_clustering'][f'{vn} vs {an}, k={k}'] = dict(cross_modal=v)
                print(f"cross-modal k={k}: {vn} vs {an}: excess MI {v:+.3f} nats (max {np.log(k):.2f})", flush=True)
    budget = dict(bs=32, workers=workers, clip=clip, crop_scale=(0.6, 1.), epochs=epochs, lr=3e-3)
    for norm in (None, 'clip'):
        torch.manual_seed(0)
        learn = pt.fit_supervised(data, 'video', get_encoder('r2plus1d_small', input_norm=norm), budget)
        acc, steps = float(learn.validate()[1]), epochs * len(learn.dls.train)
        out['supervised'][f'input_norm={norm}'] = dict(valid_accuracy=acc, epochs=epochs, steps=steps)
        print(f"supervised video, input_norm={norm}: valid accuracy {acc:.3f} after {steps} steps", flush=True)
    a, b = (out['supervised'][f'input_norm={n}']['valid_accuracy'] for n in ('None', 'clip'))
    print(f"clip norm vs dataset norm (baseline): {b:.3f} vs {a:.3f} valid accuracy; took {(time.time() - t_start) / 60:.1f} min")
    out['minutes'] = round((time.time() - t_start) / 60, 1)
    if json: Path(json).parent.mkdir(parents=True, exist_ok=True); Path(json).write_text(_json.dumps(out, indent=1))
