"`benchmarks/paper_table.py`: the table's JSON, nuisance labels and plot, on a tiny synthetic dataset (and AV-digits' labels when present)."
import csv, json, random, shutil, subprocess, sys
from pathlib import Path
import pytest
import torch
from xdc_fast.core import Recipe

SCRIPT = Path(__file__).resolve().parents[1]/'benchmarks'/'paper_table.py'


def run(*args, timeout=900):
    return subprocess.run([sys.executable, SCRIPT] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope='module')
def ds_with_speakers(synth_ds, tmp_path_factory):
    "The synthetic dataset with a `labels.csv` whose `speaker` column is the clip number's parity."
    d = tmp_path_factory.mktemp('pt')/'ds'
    shutil.copytree(synth_ds, d)
    files = sorted(p.relative_to(d) for p in d.rglob('*.mp4'))
    with open(d/'labels.csv', 'w', newline='') as f:
        w = csv.writer(f); w.writerow(['file', 'digit', 'speaker', 'split'])
        for i, p in enumerate(files): w.writerow([str(p), p.parent.name, f'spk{i % 2}', p.parts[0]])
    return d


@pytest.mark.slow
def test_table_json_has_every_variant_seed_and_probe(ds_with_speakers, tmp_path):
    out, png = tmp_path/'t.json', tmp_path/'t.png'
    r = run('--data', ds_with_speakers, '--seeds', 2, '--epochs', 2, '--k', 3, '--k_sweep', '2', '--bs', 8, '--curve_every', 1,
            '--video_arch', 'r2plus1d_tiny', '--audio_arch', 'resnet_tiny_audio', '--variants', 'random,xdc_paper,xdc,contrastive,supervised',
            '--json', out, '--plot', png)
    assert r.returncode == 0, r.stderr[-3000:]
    t = json.loads(out.read_text())
    variants = ('random', 'xdc_paper', 'xdc', 'contrastive', 'supervised')
    assert set(t) == set(variants) | {'curves', 'history', 'ablation', 'k_sweep', 'config'}
    h = t['history']['xdc']                                                       # seed 0's per-epoch table: the per-head diagnostics
    assert 'ce_v<-a3' in h['names'] and 'nce' in h['names'] and len(h['values']) == 2 and len(h['values'][0]) == len(h['names'])
    for v in variants:
        assert [s['seed'] for s in t[v]['per_seed']] == [0, 1]
        for p in ('video', 'audio', 'speaker', 'background'):
            assert 0 <= t[v][p] <= 1 and t[v][p + '_std'] >= 0
            assert t[v][p] == pytest.approx(sum(s[p] for s in t[v]['per_seed']) / 2)
    assert set(t['k_sweep']) == {'2'} and 0 <= t['k_sweep']['2']['video'] <= 1
    assert set(t['curves']) == set(variants) - {'random'}                          # seed 0's probe curves, one point per epoch
    assert [q['epoch'] for q in t['curves']['xdc']] == [1, 2]
    assert t['config']['partial'] is False and t['config']['seeds'] == 2
    assert t['config']['xdc_fast'] == Recipe.of('xdc_fast').asdict()          # the options the xdc_fast rows ran with
    assert 0 <= t['config']['table_minutes'] <= t['config']['minutes']         # the table's own time, without the k sweep
    assert png.stat().st_size > 10_000
    assert 'video ordering:' in r.stdout and 'table took' in r.stdout
    # a stopped run continues: --resume keeps the two seeds measured and runs only the third, and the file's provenance
    t['config']['merged_from'] = ['a.json', 'b.json']; t['config']['versions'] = dict(t['config']['versions'], torch='0.1')
    out.write_text(json.dumps(t))
    r = run('--data', ds_with_speakers, '--seeds', 3, '--epochs', 2, '--k', 3, '--k_sweep', '2', '--bs', 8, '--curve_every', 1,
            '--video_arch', 'r2plus1d_tiny', '--audio_arch', 'resnet_tiny_audio', '--variants', 'random,xdc_paper,xdc,contrastive,supervised',
            '--json', out, '--resume')
    assert r.returncode == 0, r.stderr[-3000:]
    t3 = json.loads(out.read_text())
    assert 'kept 10 runs' in r.stdout and r.stdout.count('seed 2 ') == 5 and 'seed 0 ' not in r.stdout
    assert "measured with another versions ({'torch': '0.1'" in r.stdout and 'this table mixes two' in r.stdout   # kept runs of another environment: said
    for v in variants: assert t3[v]['per_seed'][:2] == t[v]['per_seed'] and t3[v]['per_seed'][2]['seed'] == 2
    assert t3['config']['table_minutes'] >= t['config']['table_minutes']         # the earlier invocation's time counts
    assert t3['config']['merged_from'] == ['a.json', 'b.json']
    r = run('--data', ds_with_speakers, '--seeds', 3, '--epochs', 3, '--json', out, '--resume')     # other settings: refused
    assert r.returncode != 0 and 'measured with other settings' in r.stderr
    r = run('--data', ds_with_speakers, '--seeds', 3, '--epochs', 2, '--k', 3, '--bs', 8, '--curve_every', 1, '--video_arch', 'r2plus1d_tiny',
            '--audio_arch', 'resnet_tiny_audio', '--variants', 'random,xdc_paper,xdc,contrastive,supervised', '--warmup_epochs', 1,
            '--json', out, '--resume')                                          # another recipe for the xdc_fast rows: refused too
    assert r.returncode != 0 and 'measured with other settings (warmup_epochs: None there, 1 now; xdc_fast:' in r.stderr
    r = run('--data', ds_with_speakers, '--seeds', 3, '--epochs', 2, '--k', 3, '--bs', 8, '--curve_every', 1, '--video_arch', 'r2plus1d_tiny',
            '--audio_arch', 'resnet_tiny_audio', '--variants', 'random,xdc_paper,xdc,contrastive,supervised', '--aux_weight', 0,
            '--json', out, '--resume')                                          # the InfoNCE dropped after the warm-up: refused
    assert r.returncode != 0 and 'measured with other settings (aux_weight: None there, 0.0 now; xdc_fast:' in r.stderr


@pytest.mark.slow
def test_recipe_overrides_reach_the_xdc_fast_rows(ds_with_speakers, tmp_path):
    "--warmup_epochs and --aux_weight set xdc_fast's recipe for the clustering rows (the targets alone after an InfoNCE warm-up), recorded in the config; --steps sets the epochs."
    out = tmp_path/'t.json'
    r = run('--data', ds_with_speakers, '--seeds', 1, '--steps', 6, '--k', 3, '--bs', 8, '--curve_every', 1, '--video_arch', 'r2plus1d_tiny',
            '--audio_arch', 'resnet_tiny_audio', '--variants', 'sdc,xdc', '--warmup_epochs', 1, '--aux_weight', 0,
            '--assign', 'sinkhorn', '--sharpness', 10, '--marginals', 'gauss', '--pca_dim', 4, '--json', out)
    assert r.returncode == 0, r.stderr[-3000:]
    c = json.loads(out.read_text())['config']
    assert (c['steps'], c['epochs']) == (6, 2)                          # --steps: 24 training clips in batches of 8 are 3 steps an epoch
    assert (c['warmup_epochs'], c['aux_weight']) == (1, 0.0)
    assert c['xdc_fast'] == Recipe.of('xdc_fast', warmup_epochs=1, aux_weight=0.0, assign='sinkhorn', sharpness=10., marginals='gauss', pca_dim=4).asdict()


@pytest.mark.slow
def test_same_seed_same_probes_with_or_without_curves(ds_with_speakers, tmp_path):
    "A row is a function of its seed and settings: run twice, and once more recording probe curves, it measures the same."
    args = ('--data', ds_with_speakers, '--seeds', 1, '--epochs', 2, '--k', 3, '--bs', 8, '--variants', 'xdc,contrastive',
            '--video_arch', 'r2plus1d_tiny', '--audio_arch', 'resnet_tiny_audio')
    got = []
    for i, curve in enumerate((0, 0, 1)):
        r = run(*args, '--curve_every', curve, '--json', tmp_path/f'{i}.json')
        assert r.returncode == 0, r.stderr[-3000:]
        t = json.loads((tmp_path/f'{i}.json').read_text())
        got.append({v: {p: t[v][p] for p in ('video', 'audio', 'video_knn', 'audio_knn')} for v in ('xdc', 'contrastive')})
    assert got[0] == got[1] == got[2]
    from benchmarks import paper_table as pt
    assert t['xdc']['per_seed'][0]['kernels'] == pt.kernels() and f'({pt.kernels()})' in t['config']['machine']   # what the same seed repeats on
    assert torch.__version__.startswith(t['config']['versions']['torch']) and 'av' in t['config']['versions']

def test_bad_arguments_exit_with_a_reason(synth_ds, tmp_path):
    r = run('--data', synth_ds, '--variants', 'xdc,simclr')
    assert r.returncode != 0 and "unknown variants ['simclr']" in r.stderr
    r = run('--data', tmp_path)
    assert r.returncode != 0 and 'needs train/ and valid/' in r.stderr
    r = run('--data', synth_ds, '--aux_weight', -1)
    assert r.returncode != 0 and '--aux_weight must be >= 0, got -1' in r.stderr
    r = run('--data', synth_ds, '--steps', 0)
    assert r.returncode != 0 and '--steps must be >= 1, got 0' in r.stderr
    r = run('--data', synth_ds, '--heads', 'fresh')
    assert r.returncode != 0 and "--heads must be one of 'reinit', 'fit', 'match', 'centroids', got 'fresh'" in r.stderr


def test_avdigits_nuisance_labels(avdigits):
    from benchmarks import paper_table as pt
    files = sorted((avdigits/'train').rglob('*.mp4'))
    files = [files[i] for i in random.Random(0).sample(range(len(files)), 40)]
    lab = pt.nuisance_labels(avdigits, files)
    assert len(lab['speaker']) == len(files) and len(set(lab['speaker'])) == 4      # the 4 FSDD speakers
    assert len(set(lab['background'])) >= 4                                           # random background colours


def test_targets_pair_the_seeds():
    "The targets of each kind of table (defaults, targets alone, from scratch) compare variants seed by seed."
    from benchmarks import paper_table as pt
    def row(*pairs, **extra):                                   # per seed (video, audio)
        per = [dict(seed=i, video=v, audio=a, **extra) for i, (v, a) in enumerate(pairs)]
        return dict(pt.summarise(per))
    t = dict(xdc=row((.80, .90), (.82, .91), (.81, .90), nmi_true_v16=0.7, nmi_true_a16=0.55),
             sdc=row((.70, .85), (.71, .86), (.72, .84)), cdc=row((.75, .88), (.74, .88), (.76, .88)),
             mdc=row((.73, .87), (.72, .86), (.74, .87)), contrastive=row((.79, .92), (.80, .93), (.83, .90)),
             supervised=row((.9, .95), (.9, .95), (.9, .95)))
    assert pt.paired(t, 'xdc', 'sdc', 'video') == pytest.approx((0.1, 0.01, 3))
    res = {name: (met, nums) for name, met, nums in pt.targets(t, 'targets alone')}
    assert res['XDC > SDC on both probes by more than twice the paired std'][0] is True
    assert res['XDC within 0.03 of the contrastive peer (or above it) on both probes'][0] is True    # audio -0.013 on average
    assert res['XDC > CDC > MDC > SDC on the video probe (means)'] == (True, 'every step holds')
    assert res["XDC's final clusters: NMI with the label ≥ 0.6 on both modalities"] == (False, 'v16 0.700, a16 0.550')
    met, nums = dict((n, (m, x)) for n, m, x in pt.targets(t, 'defaults'))['XDC above the contrastive peer on both probes by more than the paired std']
    assert not met and 'xdc - contrastive on audio: -0.013' in nums
    assert [n for n, *_ in pt.targets(t, 'from scratch')][0] == "XDC's video probe ≥ 0.6x the supervised one"
    assert pt.recipe_kind(dict(aux_weight=0., warmup_epochs=0)) == 'from scratch' and pt.recipe_kind(dict(aux_weight=0.)) == 'targets alone'
    assert pt.recipe_kind(dict(xdc_fast=dict(aux_weight=1.))) == 'defaults'
    assert [n for n, *_ in pt.targets(dict(xdc=row((.8, .9))), 'targets alone')] == []     # a partial table: no target it cannot judge


def test_ablation_skips_rows_of_the_recipes_own_options():
    "A row whose options the table's rows already ran with (aux_weight=0 in a table of the targets alone) is not trained again."
    from benchmarks import paper_table as pt
    cfg = dict(xdc_fast=Recipe.of('xdc_fast', aux_weight=0.).asdict())
    assert pt.same_as_recipe(pt.ABLATION['aux_weight=0'], cfg)
    assert not pt.same_as_recipe(pt.ABLATION['aux_weight=0'], dict(xdc_fast=Recipe.of('xdc_fast').asdict()))   # the defaults keep the InfoNCE
    assert not pt.same_as_recipe(pt.ABLATION['heads=reinit'], cfg) and not pt.same_as_recipe({}, cfg)       # another option; the defaults row itself
