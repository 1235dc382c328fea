#!/usr/bin/env python
"""The paper's table (XDC, Table 2/3 style) on a labelled audio-video folder: random init, SDC, MDC, CDC, XDC and a
supervised upper bound, all with the same training budget, compared by linear probes on frozen features.

DIR is laid out like AV-digits: `{train,valid}/{label}/*.mp4`; a `labels.csv` beside them with `file` and `speaker`
columns adds the speaker nuisance probe. For every seed:
  random       fresh encoders (the seed's initialisation), no training
  sdc/mdc/cdc/xdc  `xdc_learner(dls, variant, ...)` + `fit_one_cycle(epochs, lr)` on the training split (labels unused)
  supervised   each encoder trained on the true labels (`finetune_learner` from scratch, `fit_one_cycle(epochs, lr)`)
then frozen features of the centre clip (`extract_features`) of every train and valid file, and `linear_probe`
(logistic regression, C searched on a holdout of the training split) for:
  video, audio   the label (digit) from the video / audio encoder
  speaker        the speaker from the audio encoder (a nuisance: lower means the features ignore it)
  background     the background hue (6 bins of the mean colour of the frame border, computed from the video) from the
                 video encoder (a nuisance)
Mean and sample standard deviation (ddof=1) over seeds go to --json (a key per variant, plus `k_sweep` and `config`) and --plot (bar chart).
`--k_sweep 8,32` adds XDC runs with other k on seed 0 (the paper's RQ2); the main k is reused from the table.

    python benchmarks/paper_table.py --data ../shared/data/avdigits --seeds 2 --json benchmarks/results/paper_table.json \\
        --plot benchmarks/results/paper_table.png --k_sweep 8,32
"""
import colorsys, csv, json as _json, platform, time
from pathlib import Path
import numpy as np
import torch
from fastcore.script import call_parse, Param
from fastprogress.fastprogress import progress_bar
from xdc_fast.data.block import AVDataLoaders
from xdc_fast.data.decode import decode_clip
from xdc_fast.learner import xdc_learner
from xdc_fast.models import get_encoder
from xdc_fast.transfer import extract_features, linear_probe, classification_dls, finetune_learner

VARIANTS = ('random', 'sdc', 'mdc', 'cdc', 'xdc', 'supervised')
PROBES = ('video', 'audio', 'speaker', 'background')

def background_hue(path, n_bins=6)->int:
    "Hue bin of the mean colour of the first frame's border (the background where the digit is not)."
    v, _ = decode_clip(str(path), start=0., n_frames=1, fps=16, size=32, audio=False)
    f = v[0].float() / 255                                           # (H,W,3)
    border = torch.cat([f[0], f[-1], f[:, 0], f[:, -1]]).mean(0)     # mean RGB of the border pixels
    h, _, _ = colorsys.rgb_to_hsv(*border.tolist())
    return int(h * n_bins) % n_bins

def nuisance_labels(data, files)->dict:
    "Per file: speaker (from `labels.csv`, when it has one) and background hue bin; label names mapped to indices."
    out = {}
    csv_path = Path(data)/'labels.csv'
    if csv_path.exists():
        rows = {r['file']: r for r in csv.DictReader(open(csv_path))}
        rel = [str(Path(f).relative_to(data)) for f in files]
        if all(r in rows and 'speaker' in rows[r] for r in rel):
            names = sorted({rows[r]['speaker'] for r in rel})
            out['speaker'] = np.array([names.index(rows[r]['speaker']) for r in rel])
    out['background'] = np.array([background_hue(f) for f in progress_bar(files, leave=False)])
    return out

def encoders(cfg, seed):
    "A fresh (video, audio) encoder pair for `seed`, with the table's input normalisation."
    torch.manual_seed(seed)
    return (get_encoder(cfg['video_arch'], input_norm=cfg['video_norm']),
            get_encoder(cfg['audio_arch'], input_norm=cfg['audio_norm']))

def pretrain(dls, variant, cfg, seed, k):
    ve, ae = encoders(cfg, seed)
    learn = xdc_learner(dls, variant, n_clusters=k, video_arch=ve, audio_arch=ae, seed=seed,
                        recluster_every=cfg['recluster_every'], save_run=None)
    with learn.no_logging(), learn.no_bar(): learn.fit_one_cycle(cfg["epochs"], cfg["lr"])
    return learn.model.video_encoder, learn.model.audio_encoder

def fit_supervised(data, modality, enc, cfg):
    "A `finetune_learner` of `enc` trained from scratch on the true labels with the budget of `cfg` (epochs, lr, batch size)."
    dls = classification_dls(data, modality, bs=cfg['bs'], num_workers=cfg['workers'], progress=False, **cfg['clip'],
                             **(dict(flip=False, crop_scale=cfg['crop_scale']) if modality == 'video' else {}))
    learn = finetune_learner(dls, enc, modality, copy=False)
    with learn.no_logging(), learn.no_bar(): learn.fit_one_cycle(cfg["epochs"], cfg["lr"])
    return learn

def supervised(data, cfg, seed):
    "Each encoder trained from scratch on the true labels, with the pretraining budget."
    ve, ae = encoders(cfg, seed)
    return [fit_supervised(data, m, enc, cfg).model.encoder for m, enc in (('video', ve), ('audio', ae))]

def probes(ve, ae, files, split, labels, cfg)->dict:
    "Linear-probe accuracies of frozen centre-clip features: the label from both encoders, nuisances from their modality."
    tr, va = split == 'train', split == 'valid'
    res = {}
    for modality, enc, targets in (('video', ve, ('video', 'background')), ('audio', ae, ('audio', 'speaker'))):
        f = extract_features(enc, files, modality, clip_cfg=cfg['clip'], num_workers=cfg['workers'], progress=False)
        keep = f.idx.numpy()                     # a file that fails to decode now is left out (with a warning), not fatal
        x, trk, vak = f.feats.numpy(), tr[keep], va[keep]
        for t in targets:
            key = 'label' if t in ('video', 'audio') else t
            if key not in labels: continue
            y = labels[key][keep]
            res[t] = linear_probe(x[trk], y[trk], x[vak], y[vak], seed=0).accuracy
    return res

def summarise(per_seed)->dict:
    out = {}
    for p in PROBES:
        vals = [r[p] for r in per_seed if p in r]
        if vals: out[p], out[p + '_std'] = float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.
        # std: sample standard deviation over seeds (ddof=1); 0 with one seed
    out['per_seed'] = per_seed
    return out

def plot_table(table, path=None):
    "Bar chart of every probe per variant (mean, std error bars); saved to `path` when given; returns the figure."
    import matplotlib.pyplot as plt
    names = [v for v in VARIANTS if v in table]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    w = 0.2
    for j, (p, c) in enumerate(zip(PROBES, ('tab:blue', 'tab:orange', 'tab:gray', 'silver'))):
        m = [table[n].get(p, np.nan) for n in names]; s = [table[n].get(p + '_std', 0) for n in names]
        ax.bar(np.arange(len(names)) + (j - 1.5) * w, m, w, yerr=s, color=c, capsize=2,
               label={'video': 'digit (video)', 'audio': 'digit (audio)', 'speaker': 'speaker (audio, nuisance)',
                      'background': 'background (video, nuisance)'}[p])
    ax.set_xticks(np.arange(len(names)), names); ax.set_ylim(0, 1); ax.set_ylabel('linear-probe accuracy')
    ax.legend(fontsize=8, ncol=2, loc='upper left'); ax.grid(axis='y', alpha=.3)
    fig.tight_layout()
    if path: fig.savefig(path, dpi=110); plt.close(fig)
    return fig

def _save(path, table, sweep, cfg, data, seeds, t_start, partial=False):
    "Write the table as JSON (also after every run, marked `partial`, so a long run that stops keeps what it measured)."
    out = dict(table, k_sweep=sweep, config=dict(cfg, data=str(data), seeds=seeds, minutes=round((time.time() - t_start) / 60, 1),
               machine=f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
               date=time.strftime('%Y-%m-%d'), cuda=torch.cuda.is_available(), partial=partial))
    Path(path).parent.mkdir(parents=True, exist_ok=True); Path(path).write_text(_json.dumps(out, indent=1))

@call_parse
def main(data:Param('folder laid out like avdigits: {train,valid}/{label}/*.mp4', str)='../shared/data/avdigits',
         seeds:Param('number of seeds (0, 1, ...)', int)=2,
         json:Param('write the table here (JSON)', str)=None,
         plot:Param('write the bar chart here (PNG)', str)=None,
         variants:Param('comma-separated subset of ' + ','.join(VARIANTS), str)=','.join(VARIANTS),
         k:Param('clusters per clustering', int)=16,
         k_sweep:Param('extra k values for XDC on seed 0, comma-separated (e.g. 8,32); empty: none', str)='',
         epochs:Param('training epochs (every variant, supervised too)', int)=8,
         lr:Param('one-cycle max learning rate (Adam)', float)=3e-3,
         bs:Param('batch size', int)=32,
         recluster_every:Param('epochs between clusterings', int)=2,
         n_frames:Param('frames per clip', int)=4, fps:Param('clip frame rate', float)=4,
         size:Param('decoded side (px)', int)=32, crop:Param('crop side (px)', int)=32,
         crop_scale:Param('smallest area of the random training crop', float)=0.6,
         video_arch:str='r2plus1d_small', audio_arch:str='resnet_small_audio',
         video_norm:Param("video encoder input_norm: 'clip' or 'none'", str)='clip',
         audio_norm:Param("audio encoder input_norm: 'cmvn' or 'batch'", str)='cmvn',
         workers:Param('decoding worker processes', int)=2):
    "Pretrain every variant with the same budget and report linear probes on the label and the nuisances."
    t_start = time.time()
    data = Path(data)
    if not (data/'train').is_dir() or not (data/'valid').is_dir(): raise SystemExit(f"{data}: needs train/ and valid/ folders of {{label}}/*.mp4")
    names = [v.strip() for v in variants.split(',') if v.strip()]
    if bad := [v for v in names if v not in VARIANTS]: raise SystemExit(f"unknown variants {bad}; choose from {', '.join(VARIANTS)}")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg = dict(epochs=epochs, lr=lr, bs=bs, k=k, recluster_every=recluster_every, video_arch=video_arch, audio_arch=audio_arch,
               video_norm=None if video_norm == 'none' else video_norm, audio_norm=audio_norm, workers=workers,
               crop_scale=(crop_scale, 1.), clip=dict(n_frames=n_frames, fps=fps, size=size, crop=crop))
    dls = AVDataLoaders.from_folder(data, bs=bs, num_workers=workers, flip=False, crop_scale=cfg['crop_scale'], progress=False, **cfg['clip'])
    files = dls.files
    split = np.array([Path(f).relative_to(data).parts[0] for f in files])
    labels = {'label': dls.labels.numpy(), **nuisance_labels(data, files)}
    print(f"{data}: {int((split == 'train').sum())} train / {int((split == 'valid').sum())} valid videos, "
          f"{len(dls.label_vocab)} labels, nuisances: {', '.join(k for k in labels if k != 'label')}", flush=True)
    rows, timings = {v: [] for v in names}, {}
    for seed in range(seeds):
        for v in names:
            t0 = time.time()
            if v == 'random': ve, ae = encoders(cfg, seed)
            elif v == 'supervised': ve, ae = supervised(data, cfg, seed)
            else: ve, ae = pretrain(dls, v, cfg, seed, k)
            r = dict(seed=seed, **probes(ve, ae, files, split, labels, cfg))
            rows[v].append(r); timings.setdefault(v, []).append(time.time() - t0)
            print(f"seed {seed} {v:10s} " + '  '.join(f"{p} {r[p]:.3f}" for p in PROBES if p in r) + f"  ({time.time() - t0:.0f} s)", flush=True)
            if json: _save(json, {v: summarise(rows[v]) for v in names if rows[v]}, {}, cfg, data, seed + 1, t_start, partial=True)
    table = {v: summarise(rows[v]) for v in names}
    sweep = {}
    for kk in [int(x) for x in k_sweep.split(',') if x.strip()]:
        if kk == k and 'xdc' in table: sweep[str(kk)] = {p: table['xdc']['per_seed'][0][p] for p in ('video', 'audio')}; continue
        t0 = time.time()
        ve, ae = pretrain(dls, 'xdc', cfg, 0, kk)
        r = probes(ve, ae, files, split, labels, cfg)
        sweep[str(kk)] = {p: r[p] for p in ('video', 'audio')}
        print(f"k sweep: xdc k={kk}  video {r['video']:.3f}  audio {r['audio']:.3f}  ({time.time() - t0:.0f} s)", flush=True)
    if k_sweep and str(k) not in sweep and 'xdc' in table: sweep[str(k)] = {p: table['xdc']['per_seed'][0][p] for p in ('video', 'audio')}
    total = time.time() - t_start
    print(f"\n{'variant':12s}" + ''.join(f"{p:>18s}" for p in PROBES))
    for v in names:
        print(f"{v:12s}" + ''.join(f"{table[v][p]:>11.3f} ± {table[v][p + '_std']:.3f}" if p in table[v] else f"{'-':>18s}" for p in PROBES))
    order = sorted((v for v in names if v != 'supervised'), key=lambda v: -table[v]['video'])
    print(f"video ordering: {' > '.join(order)};  audio ordering: {' > '.join(sorted((v for v in names if v != 'supervised'), key=lambda v: -table[v]['audio']))}")
    if sweep: print('k sweep (XDC, seed 0): ' + ', '.join(f"k={kk}: video {r['video']:.3f} audio {r['audio']:.3f}" for kk, r in sorted(sweep.items(), key=lambda x: int(x[0]))))
    print(f"table took {total / 60:.1f} min ({', '.join(f'{v} {np.mean(t):.0f} s/seed' for v, t in timings.items())})")
    if json: _save(json, table, sweep, cfg, data, seeds, t_start)
    if plot:
        import matplotlib; matplotlib.use('Agg')
        plot_table(table, plot)
