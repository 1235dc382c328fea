"`xdc_fast extract` and `xdc_fast finetune` on a pretraining run folder written by `xdc_fast pretrain` (tiny, CPU)."
import csv, json, subprocess, sys
from pathlib import Path
import pytest, torch

CLI = [sys.executable, '-m', 'xdc_fast.cli']
SMALL = ['--video-arch', 'r2plus1d_small', '--audio-arch', 'resnet_small_audio', '--n-frames', '4', '--size', '32', '--crop', '32',
         '--bs', '8', '--workers', '0', '--n-clusters', '3,3']


def run(*args, timeout=900):
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope='module')
def pretrained(synth_ds, tmp_path_factory):
    out = tmp_path_factory.mktemp('run')/'xdc'
    r = run('pretrain', synth_ds, '--out', out, '--epochs', 1, '--video-norm', 'clip', '--audio-norm', 'cmvn', '--features', 'train', '--cpu-kmeans', *SMALL)
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((out/'config.json').read_text())
    assert (cfg['video_norm'], cfg['audio_norm']) == ('clip', 'cmvn')     # extract/finetune rebuild the encoders with them
    return out


def test_pretrain_rejects_unknown_input_norm(synth_ds, tmp_path):
    r = run('pretrain', synth_ds, '--out', tmp_path/'x', '--audio-norm', 'layer')
    assert r.returncode != 0 and "--audio_norm must be one of 'batch', 'cmvn', got 'layer'" in r.stderr
    r = run('pretrain', synth_ds, '--out', tmp_path/'x', '--recipe', 'swav')
    assert r.returncode != 0 and "--recipe must be xdc_fast or paper, got 'swav'" in r.stderr
    r = run('pretrain', synth_ds, '--out', tmp_path/'x', '--features', 'extra')
    assert r.returncode != 0 and "--features must be one of 'pass', 'train', got 'extra'" in r.stderr
    r = run('pretrain', synth_ds, '--out', tmp_path/'x', '--audio-noise', 2)
    assert r.returncode != 0 and "--audio_noise must be in [0, 1]" in r.stderr
    r = run('pretrain', synth_ds, '--out', tmp_path/'x', '--joint', 'sum')
    assert r.returncode != 0 and "--joint must be one of 'concat', 'each', got 'sum'" in r.stderr


def test_pretrain_takes_every_recipe_option():
    "Every option of `Recipe` is an option of `xdc_fast pretrain` (the recipe checks them once; the CLI only names them)."
    import inspect
    from xdc_fast.cli import pretrain
    from xdc_fast.core import Recipe
    missing = sorted(set(Recipe.fields()) - set(inspect.signature(pretrain).parameters))
    assert not missing, f"Recipe options that xdc_fast pretrain lacks: {missing}"


@pytest.mark.slow
def test_pretrain_recipes_and_the_contrastive_peer(synth_ds, tmp_path):
    r = run('pretrain', synth_ds, '--out', tmp_path/'paper', '--epochs', 1, '--recipe', 'paper', *SMALL)
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((tmp_path/'paper'/'config.json').read_text())
    assert (cfg['recipe'], cfg['heads'], cfg['assign'], cfg['aux_weight'], cfg['video_norm'], cfg['audio_norm']) == \
           ('paper', 'reinit', 'kmeans', 0., 'none', 'batch')                       # the recipe's own input norms
    r = run('pretrain', synth_ds, '--out', tmp_path/'con', '--steps', 6, '--variant', 'contrastive', '--cache',
            '--audio-noise', 0.5, '--audio-shift', 0.1, '--mixed', *SMALL)
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((tmp_path/'con'/'config.json').read_text())
    assert (cfg['variant'], cfg['recipe'], cfg['video_norm'], cfg['audio_norm']) == ('contrastive', 'xdc_fast', 'clip', 'cmvn')
    assert (cfg['audio_noise'], cfg['audio_shift'], cfg['mixed']) == (0.5, 0.1, True)
    assert cfg['epochs'] == 2 and '--steps 6: 2 epochs of 3 batches' in r.stdout        # 24 training clips in batches of 8
    assert (tmp_path/'con'/'checkpoint.pth').exists() and (tmp_path/'con'/'metrics.csv').read_text().count('\n') == 3
    r = run('extract', synth_ds, '--run', tmp_path/'con', '--out', tmp_path/'f.pt', '--workers', 0)   # its encoders transfer like any run's
    assert r.returncode == 0, r.stderr[-2000:]


def test_extract_writes_features_matched_to_files(synth_ds, pretrained, tmp_path):
    out = tmp_path/'f.pt'
    r = run('extract', synth_ds, '--run', pretrained, '--out', out, '--modality', 'audio', '--workers', 0)
    assert r.returncode == 0, r.stderr[-2000:]
    d = torch.load(out, weights_only=False)
    assert d['feats'].shape == (32, 256) and len(d['files']) == 32 and d['failed'] == []
    assert all(l == f.split('/')[-2] for l, f in zip(d['labels'], d['files']))   # labels from the parent folders
    assert torch.isfinite(d['feats']).all()
    r = run('extract', synth_ds, '--run', pretrained, '--out', tmp_path/'w.pt', '--window', 0.5, '--stride', 0.25, '--workers', 0)
    assert r.returncode == 0, r.stderr[-2000:]
    w = torch.load(tmp_path/'w.pt', weights_only=False)
    assert w['starts'][0][0] == 0 and len(w['windows']) == 32


def test_finetune_reports_video_level_accuracy(synth_ds, pretrained, tmp_path):
    out = tmp_path/'ft'
    r = run('finetune', synth_ds, '--run', pretrained, '--out', out, '--modality', 'audio', '--epochs', 1, '--bs', 8, '--workers', 0, '--n-clips', 2)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((out/'results.json').read_text())
    assert 0 <= res['accuracy'] <= 1 and res['n_videos'] == 8
    assert (out/'metrics.csv').exists() and (out/'model.pth').exists()
    assert 'video-level accuracy' in r.stdout


def test_bad_arguments_exit_with_a_message(synth_ds, tmp_path):
    r = run('extract', synth_ds, '--run', tmp_path)
    assert r.returncode == 1 and 'is not a pretraining run folder' in r.stderr
    r = run('finetune', synth_ds, '--modality', 'smell')
    assert r.returncode == 1 and '--modality must be video or audio' in r.stderr
    r = run('extract', tmp_path/'nope', '--run', tmp_path)
    assert r.returncode == 1 and 'is not a folder' in r.stderr


def test_evaluate_ucf_and_esc_layouts(pretrained, tmp_path):
    "`xdc_fast evaluate` on a UCF101-layout and an ESC-50-layout folder: a line per split, the mean ± std, the JSON with settings and files."
    from xdc_fast.evaluate import make_protocol_samples
    ucf, hmdb, esc = make_protocol_samples(tmp_path/'sets', n_classes=3, per_class=6)
    (ucf/'Circle'/'v_Circle_g04_c01.avi').write_bytes(b'not a video')            # listed, cannot be decoded
    r = run('evaluate', ucf, '--run', pretrained, '--protocol', 'ucf101', '--n-clips', 2, '--workers', 0, '--json', tmp_path/'ucf.json')
    assert r.returncode == 0, r.stderr
    assert 'mean ± std' in r.stdout and 'video acc' in r.stdout and '1 failed to decode' in r.stdout, r.stdout
    res = json.loads((tmp_path/'ucf.json').read_text())
    assert [s['name'] for s in res['splits']] == ['1', '2', '3'] and res['settings']['n_clips'] == 2 and res['settings']['Cs']
    assert res['n_failed'] == 1 and res['failed'][0][0].endswith('v_Circle_g04_c01.avi')
    assert all(s['n_train'] + s['n_test'] == 17 for s in res['splits'])
    r = run('evaluate', esc, '--run', pretrained, '--protocol', 'esc50', '--modality', 'audio', '--method', 'knn', '--k', 5, '--n-clips', 2,
            '--workers', 0, '--json', tmp_path/'esc.json')
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path/'esc.json').read_text())
    assert len(res['splits']) == 5 and res['settings']['k'] == 5 and res['method'] == 'knn'
    r = run('evaluate', esc, '--run', tmp_path, '--protocol', 'esc50', '--modality', 'audio')
    assert r.returncode == 1 and 'is not a pretraining run folder' in r.stderr
    r = run('evaluate', esc, '--protocol', 'kinetics')
    assert r.returncode == 1 and '--protocol must be one of' in r.stderr


def test_predict_and_export_clusters(synth_ds, pretrained, tmp_path):
    "`xdc_fast predict-clusters` assigns new clips to a run's clusters (a CSV); `export-clusters` writes a folder per cluster and an index page."
    r = run('predict-clusters', pretrained, Path(synth_ds)/'valid', '--out', tmp_path/'c.csv', '--workers', 0)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(tmp_path/'c.csv')))
    names = {row['clustering'] for row in rows}
    assert names and len(rows) == 8 * len(names) and all(0 <= int(row['cluster']) for row in rows)
    r = run('export-clusters', pretrained, '--out', tmp_path/'ex', '--copy')
    assert r.returncode == 0, r.stderr
    assert (tmp_path/'ex'/'index.html').exists()
    clusterings = [d for d in (tmp_path/'ex').iterdir() if d.is_dir()]
    assert sorted(d.name for d in clusterings) == sorted(names)
    for d in clusterings:                                                  # every training clip once per clustering, copied
        files = list(d.rglob('*.mp4'))
        assert len(files) == 24 and not any(f.is_symlink() for f in files)
    r = run('predict-clusters', tmp_path, Path(synth_ds)/'valid')
    assert r.returncode == 1 and 'is not a pretraining run folder' in r.stderr
