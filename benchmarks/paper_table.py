#!/usr/bin/env python
"""The paper's table (XDC, Table 2/3 style) on a labelled audio-video folder: random init, SDC, MDC, CDC, XDC (the paper's
recipe and xdc_fast's), the cross-modal contrastive peer and a supervised bound, all with one training budget, compared by
cross-validated probes on frozen features.

DIR is laid out like AV-digits: `{train,valid}/{label}/*.mp4`; a `labels.csv` beside them with `file` and `speaker`
columns adds the speaker nuisance probe. The clips are decoded once (`AVDataLoaders.from_folder(..., cache=True)`). For
every seed:
  random       fresh encoders (the seed's initialisation), no training
  sdc/mdc/cdc/xdc  `xdc_learner(dls, variant)` with xdc_fast's recipe (`RECIPES['xdc_fast']`: a cross-modal InfoNCE warm-up
               until an epoch's InfoNCE is 0.75 nats below chance, at most 3/4 of the epochs, then the clustering loss with the
               InfoNCE beside it, heads fitted to each clustering, k-means in an unwhitened PCA space, best of 5 starts) +
               `fit_flat_cos(epochs, lr)` (--schedule); labels unused. Every clustering variant gets the same options
               (--multi_k too), so the table compares the targets and nothing else
  xdc_paper    `xdc_learner(dls, 'xdc', recipe='paper')`: k-means labels (one clustering of --k per modality, as published),
               re-initialised linear heads, no contrastive loss
  contrastive  `xdc_learner(dls, 'contrastive')`: the symmetric cross-modal InfoNCE alone
  supervised   both encoders trained on the true labels (one linear head each, the same data, augmentation and budget)
then frozen features of the centre clip of every file, scored by 5-fold stratified cross-validation over all of them
(`cv_probe`: logistic regression with C searched in the first fold; cosine kNN, k=20, for the label) for:
  video, audio   the label (digit) from the video / audio encoder (and `video_knn`, `audio_knn`)
  speaker        the speaker from the audio encoder (a nuisance: lower means the features ignore it)
  background     the background hue (6 bins of the mean colour of the frame border) from the video encoder (a nuisance)
Every run is a function of its seed and settings (`RunSeed`, `keep_rng`): probe curves and feature passes do not change
it. Each run also records its last diagnostics (per head its cross-entropy and accuracy against its own targets, the
clusters' NMI and purity with the label), and seed 0 its per-epoch table (`history`). Seed 0 also records probe curves
(every --curve_every epochs, C=1). Mean and sample standard deviation (ddof=1) over seeds go to --json (a key per
variant, plus `curves`, `history`, `ablation`, `k_sweep` and `config`) and --plot; `targets` checks the targets of the
table's kind (defaults, targets alone, from scratch) on paired seeds. `--ablation` adds single-seed XDC runs with one
option of the recipe changed.

The defaults are the budget of the current table: `r2plus1d_tiny` + `resnet_tiny_audio`, 2 frames of 32 px, 26 epochs,
channels-last weights, about 2.5 min per run on 2 CPU cores (the JSON's `config.table_minutes` is the table's own time).
Earlier budgets and their tables: `benchmarks/results/archive/README.md`.

    python benchmarks/paper_table.py --data ../shared/data/avdigits --seeds 3 --json benchmarks/results/paper_table_fit26.json \\
        --plot benchmarks/results/paper_table_fit26.png
    # the targets alone after the warm-up (no InfoNCE beside the clustering loss):
    python benchmarks/paper_table.py --data ../shared/data/avdigits --seeds 3 --variants xdc,sdc,contrastive --aux_weight 0 --json benchmarks/results/targets_alone.json
    # a stopped run continues where it stopped (the same settings), e.g. to add seeds or the ablation:
    python benchmarks/paper_table.py --data ../shared/data/avdigits --seeds 3 --ablation --resume --json benchmarks/results/paper_table_fit26.json
"""
import colorsys, csv, functools, json as _json, platform, sys, time, warnings
from pathlib import Path
import numpy as np
import torch
from fastcore.script import call_parse, store_true
from xdc_fast.core import pbar
import xdc_fast.core                        # first: fastai imported without its torch.jit.script warning
from fastai.callback.core import Callback
from fastai.learner import Learner
from fastai.torch_core import set_seed
from xdc_fast.data.block import AVDataLoaders
from xdc_fast.data.audio import nuisance_tfms
from xdc_fast.data.decode import decode_clip
from xdc_fast.learner import xdc_learner, to_channels_last, RunSeed, epochs_for_steps
from xdc_fast.core import Recipe
from xdc_fast.models import get_encoder
from xdc_fast.models import XDCModel, MultiHeadLoss
from xdc_fast.features import feature_pass
from xdc_fast.transfer import cv_probe
sys.path.insert(0, str(Path(__file__).resolve().parent))          # the other benchmarks, also when loaded by file path
from epoch_overhead import TrueLabelTargets                      # the supervised baseline's targets

VARIANTS = ('random', 'sdc', 'mdc', 'cdc', 'xdc_paper', 'xdc', 'contrastive', 'supervised')
CLUSTERING = ('sdc', 'mdc', 'cdc', 'xdc')
PROBES = ('video', 'audio', 'speaker', 'background')
OVERRIDES = ('warmup_epochs', 'warmup_drop', 'features', 'aux_weight', 'heads', 'pca_dim', 'eigen_power', 'n_redo', 'joint', 'assign',
             'sharpness', 'marginals', 'cluster_mates')   # options of xdc_fast's recipe the table can set
ABLATION = {                                  # XDC with one option of xdc_fast's recipe changed (seed 0), most telling first
    'xdc (defaults)': {},                     # = the table's xdc row, seed 0
    'warmup_epochs=0': dict(warmup_epochs=0),  # no contrastive-only warm-up: the clustering from the first epoch
    'aux_weight=0': dict(aux_weight=0.),
    'heads=reinit': dict(heads='reinit'),     # the paper's fresh heads (the recipe fits each head to its clustering)
    'heads=match': dict(heads='match'),       # persistent heads, clusters renumbered (SeLaVi)
    'heads=centroids': dict(heads='centroids'),
    'eigen_power=-0.5': dict(eigen_power=-0.5, n_redo=1),   # the paper's whitening PCA and one k-means run
    'paper recipe': dict(recipe='paper'),     # = the table's xdc_paper row, seed 0
    'audio noise+shift': dict(audio_noise=0.5, audio_shift=0.1),   # ColouredNoise + TimeShift on the training audio
    'features=pass': dict(features='pass'),   # the paper's extra feature pass (the recipe clusters the training pass's embeddings)
    'assign=sinkhorn': dict(assign='sinkhorn'),
    'bn_warmup=20': dict(bn_warmup=20),
    'bank=True': dict(bank=True),
    'bf16 autocast': dict(mixed=True),        # learn.to_mixed(cpu_bf16=True): does the faster CPU step learn as well?
}
CARRIED = ('merged_from', 'table_minutes_from')   # provenance in a file's config that the script does not write itself (a merged table)
SAME_AS_ROW = {'xdc (defaults)': 'xdc', 'paper recipe': 'xdc_paper'}   # ablation entries the table measured already

def same_as_recipe(opts, cfg)->bool:
    "Whether an ablation row's options are what the table's xdc_fast rows ran with already (its XDC row, seed 0, is that run)."
    recipe = (cfg or {}).get('xdc_fast') or {}
    return bool(opts) and all(recipe.get(k, object()) == v for k, v in opts.items())

def cpu_model()->str:
    "The CPU's model name (Linux's /proc/cpuinfo), or the platform's machine type where that is not readable."
    try: return next(l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor() or platform.machine()

def kernels()->str:
    "Which CPU kernels torch runs here ('AVX2', 'AVX512', ...; 'CUDA' on a GPU): runs repeat exactly on one kind, while another kind's arithmetic differs in the last bits and a clustering run then takes another path."
    return 'CUDA' if torch.cuda.is_available() else torch.backends.cpu.get_cpu_capability()

def machine()->str: return f"{cpu_model()} ({kernels()}), {torch.get_num_threads()} threads"

@functools.cache
def versions()->dict:
    "The versions of the packages a run's numbers depend on (decoding, kernels, k-means, probes): another set can move a table. Looked up once per process."
    from importlib.metadata import version, PackageNotFoundError
    def v(p):
        try: return version(p)
        except PackageNotFoundError: return None
    return {p: ver for p in ('torch', 'torchaudio', 'av', 'numpy', 'scikit-learn', 'faiss-gpu', 'faiss-cpu', 'fastai') if (ver := v(p))}

def bf16_native()->bool:
    "Whether this machine computes bfloat16 natively (CUDA, or a CPU with AVX512-BF16 or AMX); elsewhere it is emulated and slow."
    if torch.cuda.is_available(): return True
    try: cpuinfo = Path('/proc/cpuinfo').read_text()
    except OSError: return False
    return 'amx_bf16' in cpuinfo or 'avx512_bf16' in cpuinfo

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
    out['background'] = np.array([background_hue(f) for f in pbar(files, leave=False)])
    return out

def encoders(cfg, seed):
    "A fresh (video, audio) encoder pair for `seed`, with the table's input normalisation."
    torch.manual_seed(seed)
    return (get_encoder(cfg['video_arch'], input_norm=cfg['video_norm']),
            get_encoder(cfg['audio_arch'], input_norm=cfg['audio_norm']))

def untrained(cfg, seed):
    "The random-init row's model: `encoders(cfg, seed)` with no heads, as the probes see it."
    return XDCModel(*encoders(cfg, seed), [], {})

def features(model, dls)->tuple:
    "Frozen encoder features (centre clip, no augmentation) of every file: `(video (N,d_v), audio (N,d_a))`; the run's random stream untouched."
    fv, fa, seen = feature_pass(model, bs=128, dls=dls)
    return fv.numpy(), fa.numpy(), seen.numpy()

FOLDS = 5

def probes(model, dls, split, labels, Cs=(0.01, 0.1, 1., 10.), which=PROBES, knn=True)->dict:
    "Probes of frozen centre-clip features, by 5-fold cross-validation over every clip (train and valid): linear (C searched in each fold) for the label from both encoders and the nuisances from their modality; kNN (k=20) for the label."
    fv, fa, seen = features(model, dls)                                # a file that fails to decode now is left out, not fatal
    res = {}
    for t, x in (('video', fv), ('background', fv), ('audio', fa), ('speaker', fa)):
        key = 'label' if t in ('video', 'audio') else t
        if key not in labels or t not in which: continue
        y = labels[key]
        r = cv_probe(x[seen], y[seen], 'linear', FOLDS, Cs=Cs)
        res[t], res[t + '_folds_std'] = r['accuracy'], r['std']
        if knn and t in ('video', 'audio'): res[t + '_knn'] = cv_probe(x[seen], y[seen], 'knn', FOLDS, k=20)['accuracy']
    return res

class ProbeCurve(Callback):
    "Digit probes (logistic regression, C=1) on frozen features every `every` epochs, for the learning curves."
    order = 100
    def __init__(self, dls, split, labels, every): self.args, self.every, self.points = (dls, split, labels), every, []
    def after_epoch(self):
        if (self.epoch + 1) % self.every and self.epoch + 1 != self.n_epoch: return
        r = probes(self.learn.model, *self.args, Cs=(1.,), which=('video', 'audio'), knn=False)
        self.points.append(dict(epoch=self.epoch + 1, **r))

def train(dls, variant, cfg, seed, curve=None, **opts):
    "Train one variant with the table's budget; returns the model (its encoders are what the probes see)."
    ve, ae = encoders(cfg, seed)
    noise, shift = opts.pop('audio_noise', 0.), opts.pop('audio_shift', 0.)
    extra = nuisance_tfms(noise, shift)                          # what from_folder(audio_noise=, audio_shift=) adds
    if extra: dls.train.after_batch.add(extra)
    try: return _train(dls, variant, cfg, seed, ve, ae, curve, **opts)
    finally:
        if extra: dls.train.after_batch.fs = dls.train.after_batch.fs.filter(lambda t: not any(t is e for e in extra))

def _train(dls, variant, cfg, seed, ve, ae, curve, mixed=False, **opts):
    set_seed(seed)
    cbs = [curve] if curve is not None else []
    if variant == 'supervised':
        n = len(dls.label_vocab)
        model = XDCModel(ve, ae, [('v<-y', 'v', 'y'), ('a<-y', 'a', 'y')], {'y': ('label', n)})
        learn = Learner(dls, model, loss_func=MultiHeadLoss(), cbs=[RunSeed(seed), TrueLabelTargets(dls.labels, 2)] + cbs)
    else:
        name = 'xdc' if variant == 'xdc_paper' else variant
        opts = dict(dict(recipe='paper' if variant == 'xdc_paper' else 'xdc_fast'), **opts)
        if variant != 'xdc_paper':                                        # the table's overrides of xdc_fast's recipe
            for o in OVERRIDES:
                if o in cfg: opts.setdefault(o, cfg[o])
        save_run = opts.pop('save_run', None)
        learn = xdc_learner(dls, name, n_clusters=(tuple(cfg['multi_k']),) * 2 if cfg.get('multi_k') and opts['recipe'] != 'paper' else cfg['k'], video_arch=ve, audio_arch=ae, seed=seed, recluster_every=cfg['recluster_every'],
                            save_run=save_run, cbs=cbs, **opts)
    if cfg.get('channels_last'): to_channels_last(learn.model)
    if mixed: learn.to_mixed(cpu_bf16=True)
    with learn.no_logging(), learn.no_bar(), warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='clustering .* is degenerate')
        warnings.filterwarnings('ignore', message='the cross-entropy of heads')
        fit = learn.fit_flat_cos if cfg.get('schedule') == 'flat_cos' else learn.fit_one_cycle
        fit(cfg['epochs'], cfg['lr'])
    cc = next((cb for cb in learn.cbs if type(cb).__name__ == 'ClusterCallback'), None)
    learn.model.final_log = {k: float(v) for k, v in (cc.log if cc is not None else {}).items()
                             if k.startswith(('nmi_true', 'purity', 'nmi_prev', 'ce_', 'acc_', 'nce', 'first_clustering')) and np.isfinite(v)}   # the last epoch's diagnostics, when the warm-up ended
    learn.model.history = dict(names=list(learn.recorder.metric_names[1:-1]),          # fastai's table, epoch by epoch (not the epoch and time columns)
                               values=[[float(x) if x is not None else float('nan') for x in row] for row in learn.recorder.values])
    return learn.model

def summarise(per_seed)->dict:
    "Mean and sample std (ddof=1; 0 with one seed) over seeds of every number the runs recorded, and the runs themselves."
    out = {}
    keys = dict.fromkeys(k for r in per_seed for k, v in r.items() if k not in ('seed', 'seconds') and isinstance(v, (int, float)))
    for p in keys:
        vals = [r[p] for r in per_seed if p in r]
        out[p], out[p + '_std'] = float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.
    out['per_seed'] = per_seed
    return out

def paired(table, a, b, probe)->tuple:
    "`a` minus `b` on `probe`, seed by seed over the seeds both ran: `(mean, std (ddof=1), n)`."
    pa, pb = ({r['seed']: r[probe] for r in table[v]['per_seed'] if probe in r} for v in (a, b))
    d = [pa[s] - pb[s] for s in sorted(set(pa) & set(pb))]
    return (float(np.mean(d)), float(np.std(d, ddof=1)) if len(d) > 1 else float('nan'), len(d)) if d else (float('nan'), float('nan'), 0)

def orderings(table, probe)->list:
    "Self-supervised variants (and random) sorted by `probe`, best first."
    return sorted((v for v in table if v in VARIANTS and v != 'supervised'), key=lambda v: -table[v][probe])

CHAIN = ('xdc', 'cdc', 'mdc', 'sdc')                            # the paper's ordering, best first

def recipe_kind(cfg)->str:
    "Which of the issue's tables a config is: 'from scratch' (no warm-up, no InfoNCE), 'targets alone' (the InfoNCE only in the warm-up) or 'defaults'."
    x = dict(cfg.get('xdc_fast') or {})
    aux, warm = cfg.get('aux_weight', x.get('aux_weight')), cfg.get('warmup_epochs', x.get('warmup_epochs'))
    if aux == 0 and warm == 0: return 'from scratch'
    return 'targets alone' if aux == 0 else 'defaults'

def targets(table, kind=None)->list:
    "The targets of the table's kind (`recipe_kind` of its config), for those whose variants it holds: `(target, met, numbers)` each; gaps are paired over seeds."
    kind, out, have = kind or recipe_kind(table.get('config', {})), [], set(table)
    def gap(a, b, p):
        m, s, n = paired(table, a, b, p)
        return m, s, f"{a} - {b} on {p}: {m:+.3f} ± {s:.3f} over {n} seeds"
    if kind == 'targets alone' and {'xdc', 'sdc'} <= have:
        g = [gap('xdc', 'sdc', p) for p in ('video', 'audio')]
        out.append(("XDC > SDC on both probes by more than twice the paired std", all(m > 2 * s for m, s, _ in g), '; '.join(t for *_, t in g)))
    if kind == 'targets alone' and {'xdc', 'contrastive'} <= have:
        g = [gap('xdc', 'contrastive', p) for p in ('video', 'audio')]
        out.append(("XDC within 0.03 of the contrastive peer (or above it) on both probes", all(m >= -0.03 for m, _, _ in g), '; '.join(t for *_, t in g)))
    if kind == 'targets alone' and set(CHAIN) <= have:
        for p in ('video', 'audio'):
            bad = [(a, b) for a, b in zip(CHAIN, CHAIN[1:]) if not table[a][p] > table[b][p]]
            out.append((f"XDC > CDC > MDC > SDC on the {p} probe (means)", not bad,
                        '; '.join(f"{a} {table[a][p]:.3f} vs {b} {table[b][p]:.3f}" for a, b in bad) or 'every step holds'))
    if kind == 'from scratch' and {'xdc', 'supervised'} <= have:
        x, s = table['xdc']['video'], table['supervised']['video']
        out.append(("XDC's video probe ≥ 0.6x the supervised one", x >= 0.6 * s, f"{x:.3f} / {s:.3f} = {x / s:.2f}x"))
    if kind == 'defaults' and {'xdc', 'contrastive'} <= have:
        g = [gap('xdc', 'contrastive', p) for p in ('video', 'audio')]
        out.append(("XDC above the contrastive peer on both probes by more than the paired std", all(m > s for m, s, _ in g), '; '.join(t for *_, t in g)))
    nmis = {k: v for k, v in table.get('xdc', {}).items() if k.startswith('nmi_true_') and not k.endswith('_std')}
    if nmis:                                  # with several clusterings per modality (--multi_k): the first (smallest k) of each is judged
        first = [next(v for k, v in nmis.items() if k[9:].startswith(m)) for m in ('v', 'a') if any(k[9:].startswith(m) for k in nmis)]
        out.append(("XDC's final clusters: NMI with the label ≥ 0.6 on both modalities" + (' (the first clustering of each)' if len(nmis) > 2 else ''),
                    min(first) >= 0.6, ', '.join(f"{k[9:]} {v:.3f}" for k, v in nmis.items())))
    return out

def paired_rows(table, pairs, probes=('video', 'audio'))->list:
    "One row per (a, b, probe): a's and b's means and the paired difference over their common seeds (mean, std, seeds)."
    out = []
    for a, b in pairs:
        if a not in table or b not in table: continue
        for p in probes:
            m, s, n = paired(table, a, b, p)
            out.append(dict(a=a, b=b, probe=p, mean_a=table[a][p], mean_b=table[b][p], diff=m, diff_std=s, seeds=n,
                            beyond_2std=bool(m > 2 * s) if n > 1 else None))
    return out

def plot_history(table, variants=None, path=None):
    "Seed 0's per-epoch diagnostics: each head's cross-entropy against its own targets and the clusters' NMI with the label."
    import matplotlib.pyplot as plt
    hist = table.get('history') or {}
    variants = [v for v in (variants or hist) if v in hist]
    fig, axs = plt.subplots(1, 3, figsize=(15, 3.6))
    for v in variants:
        h = hist[v]; vals = np.array(h['values'], dtype=float); ep = np.arange(1, len(vals) + 1)
        for j, n in enumerate(h['names']):
            if n.startswith('ce_'): axs[0].plot(ep, vals[:, j], marker='.', label=f"{v} {n[3:]}")
            elif n.startswith('acc_'): axs[1].plot(ep, vals[:, j], marker='.', label=f"{v} {n[4:]}")
            elif n.startswith('nmi_true_'): axs[2].plot(ep, vals[:, j], marker='.', label=f"{v} {n[9:]}")
    for a, t in zip(axs, ('cross-entropy of each head vs its targets', 'accuracy of each head vs its targets', 'NMI of the clusters with the label')):
        a.set_title(t, fontsize=9); a.set_xlabel('epoch'); a.grid(alpha=.3); a.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    if path: fig.savefig(path, dpi=110); plt.close(fig)
    return fig

def plot_table(table, path=None):
    "Bar chart of every probe per variant (mean, std error bars), and the seed-0 probe curves when the table has them."
    import matplotlib.pyplot as plt
    names = [v for v in VARIANTS if v in table]
    curves = table.get('curves') or {}
    fig, axs = plt.subplots(1, 3 if curves else 1, figsize=(15 if curves else 8, 3.8), squeeze=False,
                            gridspec_kw=dict(width_ratios=[2, 1, 1] if curves else [1]))
    ax, w = axs[0, 0], 0.2
    for j, (p, c) in enumerate(zip(PROBES, ('tab:blue', 'tab:orange', 'tab:gray', 'silver'))):
        m = [table[n].get(p, np.nan) for n in names]; s = [table[n].get(p + '_std', 0) for n in names]
        ax.bar(np.arange(len(names)) + (j - 1.5) * w, m, w, yerr=s, color=c, capsize=2,
               label={'video': 'digit (video)', 'audio': 'digit (audio)', 'speaker': 'speaker (audio, nuisance)',
                      'background': 'background (video, nuisance)'}[p])
    ax.set_xticks(np.arange(len(names)), names, fontsize=8); ax.set_ylim(0, 1); ax.set_ylabel('linear-probe accuracy')
    ax.legend(fontsize=7, ncol=2, loc='upper left'); ax.grid(axis='y', alpha=.3)
    for k, p in enumerate(('video', 'audio')):
        if not curves: break
        a = axs[0, k + 1]
        for v, pts in curves.items():
            a.plot([q['epoch'] for q in pts], [q[p] for q in pts], marker='.', label=v)
        a.set_title(f'digit probe ({p}), seed 0', fontsize=9); a.set_xlabel('epoch'); a.set_ylim(0, 1); a.grid(alpha=.3)
        if k == 1: a.legend(fontsize=7)
    fig.tight_layout()
    if path: fig.savefig(path, dpi=110); plt.close(fig)
    return fig

def _save(path, out, cfg, data, seeds, t_start, partial=False, **extra):
    "Write the table as JSON (also after every run, marked `partial`, so a long run that stops keeps what it measured)."
    out = dict(out, config=dict(cfg, data=str(data), seeds=seeds, minutes=round((time.time() - t_start) / 60, 1), **extra,
               machine=machine(), versions=versions(),
               date=time.strftime('%Y-%m-%d'), cuda=torch.cuda.is_available(), partial=partial))
    Path(path).parent.mkdir(parents=True, exist_ok=True); Path(path).write_text(_json.dumps(out, indent=1))

class Bench:
    "One invocation of the table: what it measures (per variant and seed, seed 0's curves and history, the k sweep, the ablation), its JSON and its report."
    def __init__(self, data, dls, cfg, names, split, labels, json=None, t_start=None):
        self.data, self.dls, self.cfg, self.names, self.split, self.labels, self.json = data, dls, cfg, names, split, labels, json
        self.t_start = t_start or time.time()
        self.rows, self.timings, self.curves, self.ablation, self.sweep, self.history = {v: [] for v in names}, {}, {}, {}, {}, {}
        self.earlier, self.table_minutes = 0., None

    def resume(self, seeds):
        "Keep what an earlier invocation with the same settings wrote to `json` (--resume): only the missing runs are measured."
        if not self.json or not Path(self.json).exists(): return
        old, cfg = _json.loads(Path(self.json).read_text()), self.cfg
        was, now = {k: old['config'].get(k, False if k == 'channels_last' else None) for k in cfg}, _json.loads(_json.dumps(cfg))   # files from before the layout option: plain
        if isinstance(was.get('xdc_fast'), dict): was['xdc_fast'] = {**Recipe().asdict(), **was['xdc_fast']}   # a Recipe option added since: its default, what those runs had
        if diff := [f"{k}: {was[k]} there, {now[k]} now" for k in cfg if was[k] != now[k]]:
            raise SystemExit(f"--resume: {self.json} was measured with other settings ({'; '.join(diff)}); use another --json")
        for v in self.names: self.rows[v] = [r for r in old.get(v, {}).get('per_seed', []) if r['seed'] < seeds]
        self.curves, self.ablation, self.sweep, self.history = (old.get(k, {}) for k in ('curves', 'ablation', 'k_sweep', 'history'))
        self.earlier = old['config'].get('table_minutes', 0.)
        cfg.update({k: old['config'][k] for k in CARRIED if k in old['config']})   # where the file's rows came from, kept through --resume
        print(f"--resume: kept {sum(map(len, self.rows.values()))} runs of {self.json}", flush=True)
        here = dict(machine=machine(), versions=versions())
        if moved := [k for k in here if old['config'].get(k) is not None and old['config'][k] != here[k]]:    # files from before the versions: not compared
            was = '; '.join(f"{old['config'][k]} there" for k in moved)
            print(f"--resume: the kept runs were measured with another {' and '.join(moved)} ({was}): "
                  f"a seed's numbers differ between machines and environments, so this table mixes two", flush=True)

    def snapshot(self)->dict:
        out = {v: summarise(self.rows[v]) for v in self.names if self.rows[v]}
        return dict(out, curves=self.curves, history=self.history, ablation=self.ablation, k_sweep=self.sweep)

    def save(self, seeds, partial=True):
        "The JSON so far (`partial` until the report): a stopped run keeps what it measured, and its time, for --resume."
        if not self.json: return
        mins = self.table_minutes if self.table_minutes is not None else round(self.earlier + (time.time() - self.t_start) / 60, 1)
        _save(self.json, self.snapshot(), self.cfg, self.data, seeds, self.t_start, partial=partial, table_minutes=mins)

    def measure(self, seeds, curve_every=0):
        "Every (seed, variant) not measured yet: train (or not, for random init), probe, record; the JSON after each run."
        dls, split, labels, ran = self.dls, self.split, self.labels, False
        for seed in range(seeds):
            for v in self.names:
                if any(r['seed'] == seed for r in self.rows[v]): continue      # measured by an earlier run (--resume)
                ran = True
                t0 = time.time()
                curve = ProbeCurve(dls, split, labels, curve_every) if seed == 0 and curve_every and v != 'random' else None
                model = untrained(self.cfg, seed) if v == 'random' else train(dls, v, self.cfg, seed, curve)
                r = dict(seed=seed, **probes(model, dls, split, labels), **getattr(model, 'final_log', {}),
                         seconds=round(time.time() - t0), kernels=kernels())    # this run's time, training and probes; the kernels it ran on
                self.rows[v].append(r); self.timings.setdefault(v, []).append(r['seconds'])
                if curve is not None: self.curves[v] = curve.points
                if seed == 0 and hasattr(model, 'history'): self.history[v] = model.history     # seed 0's per-epoch diagnostics
                print(f"seed {seed} {v:12s} " + '  '.join(f"{p} {r[p]:.3f}" for p in PROBES if p in r) + f"  ({r['seconds']} s)", flush=True)
                self.save(seed + 1)
        # the table's own time: decoding, the seeds' runs and their probes (not the sweep, the saved run or the ablation); --resume adds the earlier invocations'
        this_run = (time.time() - self.t_start) / 60 if ran or not self.earlier else 0.   # a --resume that ran nothing adds nothing
        self.table_minutes = round(self.earlier + this_run, 1)

    def sweep_k(self, ks, seeds):
        "XDC (seed 0) with each k in `ks` (--k_sweep)."
        for kk in ks:
            if str(kk) in self.sweep: continue
            t0 = time.time()
            r = probes(train(self.dls, 'xdc', dict(self.cfg, k=kk), 0), self.dls, self.split, self.labels, which=('video', 'audio'))
            self.sweep[str(kk)] = r
            print(f"k sweep: xdc k={kk}  video {r['video']:.3f}  audio {r['audio']:.3f}  ({time.time() - t0:.0f} s)", flush=True)
            self.save(seeds)

    def save_run(self, path):
        "XDC (seed 0, the table's settings) trained once more, its `ClusterRun` saved to `path` (skipped if it exists)."
        if Path(path).exists(): return
        t0 = time.time()
        train(self.dls, 'xdc', self.cfg, 0, save_run=str(Path(path).resolve()))
        print(f"saved the ClusterRun of XDC (seed 0) to {path} ({time.time() - t0:.0f} s)", flush=True)

    def ablate(self, seeds):
        "The single-seed ablation: XDC (seed 0) with one option of the recipe changed (`ABLATION`)."
        for name, opts in ABLATION.items():
            if name in self.ablation: continue
            if opts.get('mixed') and not bf16_native():      # emulated bf16 takes hours and measures nothing a user would run
                print(f"ablation {name:18s} skipped: this CPU has no native bfloat16 (AVX512-BF16 or AMX); --resume on one that has adds it", flush=True)
                continue
            t0 = time.time()
            same = SAME_AS_ROW.get(name) or ('xdc' if same_as_recipe(opts, self.cfg) else None)   # e.g. aux_weight=0 in a table of the targets alone
            row = next((r for r in self.rows.get(same, []) if r['seed'] == 0), None)
            if row is not None: r = {p: row[p] for p in PROBES if p in row}
            else:
                try: r = dict(probes(train(self.dls, 'xdc', self.cfg, 0, **opts), self.dls, self.split, self.labels), seconds=round(time.time() - t0))
                except (ValueError, FloatingPointError) as e:     # a diverged run (NaN features): a finding, not the end of the run
                    r = dict(error=str(e).strip().splitlines()[-1].strip(), seconds=round(time.time() - t0))
            self.ablation[name] = r
            print(f"ablation {name:18s} " + ('failed: ' + r['error'] if 'error' in r else '  '.join(f"{p} {r[p]:.3f}" for p in PROBES if p in r))
                  + f"  ({time.time() - t0:.0f} s)", flush=True)
            self.save(seeds)

    def report(self, seeds, plot=None)->dict:
        "The table, the orderings and the targets printed; the final JSON (no longer partial) and the plot written."
        out, total = self.snapshot(), time.time() - self.t_start
        print(f"\n{'variant':12s}" + ''.join(f"{p:>18s}" for p in PROBES))
        for v in self.names:
            print(f"{v:12s}" + ''.join(f"{out[v][p]:>11.3f} ± {out[v][p + '_std']:.3f}" if p in out[v] else f"{'-':>18s}" for p in PROBES))
        for p in ('video', 'audio'): print(f"{p} ordering: {' > '.join(orderings(out, p))}")
        for t, met, nums in targets(out, recipe_kind(self.cfg)): print(f"target: {t}: {'met' if met else 'NOT met'} ({nums})")
        print(f"table took {self.table_minutes} min, this invocation {total / 60:.1f} min ({', '.join(f'{v} {np.mean(t):.0f} s/seed' for v, t in self.timings.items())})")
        self.save(seeds, partial=False)
        if plot:
            import matplotlib; matplotlib.use('Agg')
            plot_table(out, plot)
        return out

from _args import normalise_argv
if __name__ == '__main__': normalise_argv()                    # --k-sweep or --k_sweep, with fastcore 1 or 2

@call_parse
def main(data:str='../shared/data/avdigits',  # folder laid out like avdigits: {train,valid}/{label}/*.mp4
         seeds:int=3,  # number of seeds (0, 1, ...)
         json:str=None,  # write the table here (JSON)
         plot:str=None,  # write the bar chart and curves here (PNG)
         variants:str=','.join(VARIANTS),  # comma-separated subset of random,sdc,mdc,cdc,xdc_paper,xdc,contrastive,supervised
         k:int=16,  # clusters per clustering
         k_sweep:str='',  # extra k values for XDC on seed 0, comma-separated (e.g. 8,32); empty: none
         ablation:store_true=False,  # also run the single-seed ablation of the recipe (XDC, seed 0)
         epochs:int=26,  # training epochs (every variant, supervised too)
         steps:int=None,  # the budget in optimiser steps instead (epochs = steps / batches per epoch, rounded): the same budget on a dataset of another size (26 epochs of the reference build are 728)
         lr:float=2e-3,  # peak learning rate (Adam)
         bs:int=64,  # batch size
         recluster_every:int=1,  # epochs between clusterings
         curve_every:int=4,  # seed 0: digit probes every this many epochs (0: no curves)
         n_frames:int=2,  # frames per clip
         fps:float=4,  # clip frame rate
         size:int=32,  # decoded side (px)
         crop:int=32,  # crop side (px)
         crop_scale:float=0.6,  # smallest area of the random training crop
         video_arch:str='r2plus1d_tiny', audio_arch:str='resnet_tiny_audio',   # the widths that fit 90 minutes on 2 cores
         video_norm:str='clip',  # video encoder input_norm: 'clip' or 'none'
         audio_norm:str='cmvn',  # audio encoder input_norm: 'cmvn' or 'batch'
         features:str='recipe',  # clustering features of the xdc_fast rows: 'pass', 'train' or 'recipe' (xdc_learner's default); xdc_paper keeps the paper's
         warmup_epochs:float=None,  # contrastive-only epochs before the first clustering in the xdc_fast rows (a number < 1: share of --epochs); default: the recipe's
         warmup_drop:float=None,  # end the warm-up of the xdc_fast rows sooner, once an epoch's InfoNCE is this many nats below chance (0: off); default: the recipe's
         aux_weight:float=None,  # weight of the InfoNCE kept beside the clustering loss after the warm-up in the xdc_fast rows (0: the targets alone); default: the recipe's
         heads:str=None,  # heads of the xdc_fast rows: reinit, fit, match or centroids; default: the recipe's
         pca_dim:int=None,  # PCA size before k-means in the xdc_fast rows (0: none, L2 only); default: the recipe's (`auto_pca_dim`)
         eigen_power:float=None,  # PCA scaling before k-means in the xdc_fast rows (-0.5 whitens, 0 keeps the variances); default: the recipe's
         n_redo:int=None,  # k-means restarts per clustering in the xdc_fast rows; default: the recipe's
         joint:str=None,  # CDC's clustering space in the xdc_fast rows: concat or each; default: the recipe's
         assign:str=None,  # labels of the xdc_fast rows: kmeans or sinkhorn (balanced, SeLa); default: the recipe's
         sharpness:float=None,  # Sinkhorn's lambda in the xdc_fast rows (--assign sinkhorn); default: the recipe's
         marginals:str=None,  # Sinkhorn's cluster sizes in the xdc_fast rows: uniform or gauss; default: the recipe's
         cluster_mates:str=None,  # the xdc_fast rows' InfoNCE after the warm-up: the clips sharing an anchor's clusters are negatives, ignored or positives (AVID-CMA); default: the recipe's
         schedule:str='flat_cos',   # learning-rate schedule of every row: flat_cos (fit_flat_cos: flat, then cosine; xdc_fast's) or one_cycle (fit_one_cycle)
         multi_k:str='',  # several clusterings per modality for the xdc_fast rows, e.g. 16,32,64 (the losses averaged per encoder; xdc_paper keeps one, --k); empty: one, --k
         plain_layout:store_true=False,  # train with the plain memory layout (default: channels-last convolution weights, `to_channels_last`)
         resume:store_true=False,  # keep the runs already in --json (same settings) and run only the missing (seed, variant) pairs
         save_run:str=None,  # train XDC (seed 0, the table's settings) once more and save its `ClusterRun` here, for the tutorial's explorer (skipped if the file exists)
        ):
    "Pretrain every variant with the same budget and report linear probes on the label and the nuisances."
    t_start = time.time()
    data = Path(data)
    if not (data/'train').is_dir() or not (data/'valid').is_dir(): raise SystemExit(f"{data}: needs train/ and valid/ folders of {{label}}/*.mp4")
    names = [v.strip() for v in variants.split(',') if v.strip()]
    if bad := [v for v in names if v not in VARIANTS]: raise SystemExit(f"unknown variants {bad}; choose from {', '.join(VARIANTS)}")
    if features not in ('recipe', 'pass', 'train'): raise SystemExit(f"--features must be 'recipe', 'pass' or 'train', got {features!r}")
    if seeds < 1 or epochs < 1: raise SystemExit(f"--seeds and --epochs must be >= 1, got {seeds} and {epochs}")
    if steps is not None and steps < 1: raise SystemExit(f"--steps must be >= 1, got {steps}")
    if aux_weight is not None and aux_weight < 0: raise SystemExit(f"--aux_weight must be >= 0, got {aux_weight}")
    if schedule not in ('one_cycle', 'flat_cos'): raise SystemExit(f"--schedule must be one_cycle or flat_cos, got {schedule!r}")
    try: mks = [int(x) for x in multi_k.split(',') if x.strip()]
    except ValueError: raise SystemExit(f"--multi_k must be integers like 16,32,64, got {multi_k!r}")
    overrides = dict(**({} if features == 'recipe' else dict(features=features)),
                     **({} if warmup_epochs is None else dict(warmup_epochs=int(warmup_epochs) if warmup_epochs >= 1 else warmup_epochs)),
                     **({} if aux_weight is None else dict(aux_weight=float(aux_weight))),
                     **{k: v for k, v in dict(warmup_drop=warmup_drop, heads=heads, pca_dim=pca_dim, eigen_power=eigen_power, n_redo=n_redo, joint=joint, assign=assign,
                                                   sharpness=sharpness, marginals=marginals, cluster_mates=cluster_mates).items() if v is not None})
    try: recipe = Recipe.of('xdc_fast', **overrides)                # the recipe checks its options (--heads, --joint, ...) once
    except (ValueError, TypeError) as e: raise SystemExit(f"--{e}")
    cfg = dict(epochs=epochs, lr=lr, bs=bs, k=k, recluster_every=recluster_every, video_arch=video_arch, audio_arch=audio_arch,
               video_norm=None if video_norm == 'none' else video_norm, audio_norm=audio_norm, crop_scale=(crop_scale, 1.),
               channels_last=not plain_layout, **overrides, **({} if schedule == 'one_cycle' else dict(schedule=schedule)),
               **(dict(multi_k=mks) if mks else {}),
               clip=dict(n_frames=n_frames, fps=fps, size=size, crop=crop), recipe='xdc_fast (xdc_learner defaults)',
               xdc_fast=recipe.asdict())   # the options these rows ran with (the recipe's defaults change)
    dls = AVDataLoaders.from_folder(data, bs=bs, flip=False, crop_scale=cfg['crop_scale'], progress=False, cache=True, **cfg['clip'])
    files = dls.files
    if steps is not None:                                          # the same number of steps whatever the dataset's size
        cfg.update(epochs=epochs_for_steps(steps, dls.train), steps=steps)
        print(f"--steps {steps}: {cfg['epochs']} epochs of {len(dls.train)} batches", flush=True)
    split = np.array([Path(f).relative_to(data).parts[0] for f in files])
    labels = {'label': dls.labels.numpy(), **nuisance_labels(data, files)}
    print(f"{data}: {int((split == 'train').sum())} train / {int((split == 'valid').sum())} valid videos, {len(dls.label_vocab)} labels, "
          f"nuisances: {', '.join(k for k in labels if k != 'label')}; {dls.cache} ({time.time() - t_start:.0f} s)", flush=True)
    bench = Bench(data, dls, cfg, names, split, labels, json, t_start)
    if resume: bench.resume(seeds)
    bench.measure(seeds, curve_every)
    bench.sweep_k([int(x) for x in k_sweep.split(',') if x.strip()], seeds)
    if save_run: bench.save_run(save_run)
    if ablation: bench.ablate(seeds)
    bench.report(seeds, plot)
