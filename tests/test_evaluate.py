"The field's protocols: readers of UCF101, HMDB51, ESC-50 and CSV layouts (fixtures written here), and `evaluate` on FSDD's real recordings with folds by speaker."
import csv, shutil
import torch
from pathlib import Path
import pytest
from xdc_fast.evaluate import (ucf101_protocol, hmdb51_protocol, esc50_protocol, csv_protocol, evaluate, run_encoder, make_protocol_samples)
from xdc_fast.models import get_encoder

FSDD = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'fsdd'/'recordings'


@pytest.fixture(scope='module')
def layouts(tmp_path_factory):
    return make_protocol_samples(tmp_path_factory.mktemp('layouts'), n_classes=3, per_class=6)


def test_ucf101_reader(layouts):
    p = ucf101_protocol(layouts[0])
    assert p.vocab == ['Circle', 'Cross', 'Square'] and [s.name for s in p.splits] == ['1', '2', '3']
    for s in p.splits:
        assert sorted(s.train + s.test) == p.files and not set(s.train) & set(s.test)
        assert all(p.vocab[y] == f.parent.name for f, y in zip(s.train + s.test, s.train_labels + s.test_labels))
    assert [s.name for s in ucf101_protocol(layouts[0], splits=[2]).splits] == ['2']
    with pytest.raises(ValueError, match=r"no split \[4\]"): ucf101_protocol(layouts[0], splits=[4])


def test_hmdb51_reader_skips_unused(layouts, tmp_path):
    hmdb = tmp_path/'hmdb'; shutil.copytree(layouts[1], hmdb)
    f = hmdb/'splits'/'circle_test_split1.txt'
    lines = f.read_text().splitlines(); lines[0] = lines[0].split()[0] + ' 0'          # marked unused in split 1
    f.write_text('\n'.join(lines) + '\n')
    p = hmdb51_protocol(hmdb)
    assert len(p.splits[0].train) + len(p.splits[0].test) == 17 and len(p.splits[1].train) + len(p.splits[1].test) == 18
    (tmp_path/'nothing').mkdir()
    with pytest.raises(FileNotFoundError, match=r"no \*_test_split1.txt"): hmdb51_protocol(tmp_path/'nothing')


def test_esc50_reader_and_missing(layouts, tmp_path):
    esc = tmp_path/'esc'; shutil.copytree(layouts[2], esc)
    gone = sorted((esc/'audio').glob('*.wav'))[0]; gone.unlink()
    p = esc50_protocol(esc)
    assert p.vocab == ['dog', 'rain', 'siren'] and p.missing == [f'audio/{gone.name}'] and len(p.files) == 29
    assert sum(len(s.test) for s in p.splits) == 29                                     # each file in one test fold


def test_csv_train_valid_column(tmp_path):
    for i, (y, sp) in enumerate([('a', 'train'), ('b', 'train'), ('a', 'valid'), ('b', 'test')]): (tmp_path/f'{i}.mp4').touch()
    (tmp_path/'labels.csv').write_text('file,label,split\n' + ''.join(f'{i}.mp4,{y},{sp}\n' for i, (y, sp) in
                                                                    enumerate([('a', 'train'), ('b', 'train'), ('a', 'valid'), ('b', 'test')])))
    p = csv_protocol(tmp_path)
    assert [s.name for s in p.splits] == ['split'] and len(p.splits[0].train) == 2 and len(p.splits[0].test) == 2
    with pytest.raises(ValueError, match="no column 'speaker'"): csv_protocol(tmp_path, fold='speaker')


def test_fsdd_speaker_folds(tmp_path):
    "FSDD's real recordings, audio only, leave-one-speaker-out from a labels.csv (`label='digit', fold='speaker'`), linear and kNN."
    if not FSDD.is_dir(): pytest.skip("../shared/data/fsdd not found: it lives beside the project in CI; skipping")
    rows = []
    for f in sorted(FSDD.glob('[0-2]_*_[0-4].wav')):                         # digits 0-2, 4 speakers, 5 takes: 60 files
        d, spk, _ = f.stem.split('_')
        shutil.copy(f, tmp_path/f.name); rows.append(dict(file=f.name, digit=d, speaker=spk))
    with open(tmp_path/'labels.csv', 'w', newline='') as fh:
        w = csv.DictWriter(fh, ['file', 'digit', 'speaker']); w.writeheader(); w.writerows(rows)
    r = evaluate(get_encoder('resnet_tiny_audio'), tmp_path, 'csv', 'audio', n_clips=2, label='digit', fold='speaker',
                 Cs=(1.,), json_path=tmp_path/'r.json', progress=False)
    assert [s['name'] for s in r['splits']] == [f'speaker={s}' for s in ('george', 'jackson', 'lucas', 'nicolas')]
    assert all(s['n_test'] == 15 and s['n_train'] == 45 for s in r['splits'])
    assert r['n_failed'] == 0 and r['n_missing'] == 0 and (tmp_path/'r.json').exists()
    k = evaluate(get_encoder('resnet_tiny_audio'), tmp_path, 'csv', 'audio', method='knn', n_clips=1, label='digit', fold='speaker', progress=False)
    assert 0 <= k['accuracy'] <= 1 and k['settings'] == dict(n_clips=1, clip_cfg=k['settings']['clip_cfg'], seed=0, k=20, T=0.07)


def test_run_encoder_rejects_other_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a pretraining run folder"): run_encoder(tmp_path)


def test_predict_clusters_reproduces_the_runs_assignment(synth_ds):
    "With the weights the run had when it clustered, `predict_clusters` gives every item the run's own cluster and distance."
    import copy
    from fastai.callback.core import Callback
    from xdc_fast.data.block import AVDataLoaders
    from xdc_fast.learner import xdc_learner
    from xdc_fast.callback import ClusterCallback
    from xdc_fast.evaluate import predict_clusters

    class Snapshot(Callback):
        order = ClusterCallback.order + 1                          # right after the clustering of the epoch
        def before_train(self): self.sd = copy.deepcopy(self.learn.model.state_dict())

    dls = AVDataLoaders.from_folder(synth_ds, bs=8, n_frames=4, fps=8, size=32, crop=32, num_workers=0, progress=False)
    learn = xdc_learner(dls, 'xdc', n_clusters=4, video_arch='r2plus1d_tiny', audio_arch='resnet_tiny_audio', warmup_epochs=0,
                        features='pass', seed=0, cbs=[Snapshot()])
    with learn.no_bar(), learn.no_logging(): learn.fit(2, 1e-3)
    state = {n: {k: v.clone() for k, v in c.items()} for n, c in learn.model.cluster_state.clusterings.items()}
    learn.model.load_state_dict(learn.snapshot.sd)
    p = predict_clusters(learn, list(dls.files), progress=False)
    assert list(p['clusterings']) == ['v4', 'a4'] and len(p['files']) == len(dls.files)
    for n, c in p['clusterings'].items():
        assert torch.equal(c['labels'], state[n]['labels']), n
        assert torch.allclose(c['dist'], state[n]['dist'], atol=1e-5), n
    with pytest.raises(ValueError, match="no clustering 'v8'"): predict_clusters(learn, list(dls.files)[:2], clustering='v8', progress=False)
