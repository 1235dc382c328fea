"Transfer on real files: frozen features (order, shapes, N clips, sliding windows, bad files), linear probe, kNN monitor, fine-tuning."
import math, warnings
from pathlib import Path
import pytest
import torch
from xdc_fast.synthetic import synth_clip
from xdc_fast.data.decode import probe_video
from xdc_fast.data.block import AVDataLoaders
from xdc_fast.models import get_encoder
from xdc_fast.learner import xdc_learner
from xdc_fast.transfer import (window_starts, extract_features, linear_probe, knn_accuracy, KNNMonitor, classification_dls,
                               finetune_learner, video_level_accuracy)

CLIP = dict(n_frames=4, fps=16, size=32, crop=32, audio_secs=1.0, sample_rate=16000, n_mels=40)


@pytest.fixture(scope='module')
def dls(synth_ds):
    return AVDataLoaders.from_folder(synth_ds, bs=8, n_frames=4, size=32, crop=32, num_workers=0, progress=False)


@pytest.fixture(scope='module')
def encoders():
    torch.manual_seed(0)
    return get_encoder('r2plus1d_small'), get_encoder('resnet_small_audio')


@pytest.fixture(scope='module')
def long_clip(media_dir):
    return synth_clip(media_dir/'transfer_long_5s.mp4', secs=5.0, size=(32, 32))


def test_features_order_shapes_and_workers(dls, encoders):
    enc_v, _ = encoders
    f0 = extract_features(enc_v, dls.valid, 'video', progress=False)
    assert f0.feats.shape == (len(dls.valid.items), enc_v.n_out)
    assert list(f0.items) == list(dls.valid.items) and f0.idx.tolist() == list(range(len(dls.valid.items)))
    assert f0.labels.tolist() == [dls.label_vocab.index(Path(f).parent.name) for f in dls.valid.items]
    rev = list(dls.valid.items)[::-1]
    f2 = extract_features(enc_v, rev, 'video', clip_cfg=dls.clip_cfg, num_workers=2, bs=3, progress=False)   # parallel decoding
    assert list(f2.items) == rev
    torch.testing.assert_close(f2.feats, f0.feats.flip(0), atol=1e-4, rtol=1e-4)


def test_n_clips_are_averaged(dls, encoders):
    _, enc_a = encoders
    f = extract_features(enc_a, dls.valid.items[:3], 'audio', n_clips=4, clip_cfg=dls.clip_cfg, progress=False)
    assert f.feats.shape == (3, enc_a.n_out) and f.windows is None and f.labels is None


@pytest.mark.parametrize('window,stride', [(0.5, 0.5), (0.5, 0.3), (1.0, 0.7), (2.0, 1.5)])
def test_window_starts_cover(window, stride):
    s = window_starts(5.0, window, stride)
    assert s[0] == 0 and abs(s[-1] + window - 5.0) < 1e-6
    assert all(0 < b - a <= stride + 1e-9 for a, b in zip(s, s[1:]))


@pytest.mark.parametrize('modality,window,stride,n_clips', [('video', 0.5, 0.4, 1), ('video', 1.0, 1.0, 2), ('audio', 1.0, 0.75, 1)])
def test_sliding_windows_cover_the_video(long_clip, encoders, modality, window, stride, n_clips):
    enc = encoders[modality == 'audio']
    f = extract_features(enc, [long_clip], modality, window=window, stride=stride, n_clips=n_clips, clip_cfg=CLIP, progress=False)
    starts, dur = f.starts[0], probe_video(long_clip)['duration']
    assert f.windows[0].shape == (len(starts), enc.n_out)
    assert float(starts[0]) == 0
    assert abs(float(starts[-1]) + window - dur) < stride                    # the last window ends at the end, within a stride
    assert ((starts[1:] - starts[:-1]) <= stride + 1e-6).all()
    torch.testing.assert_close(f.feats[0], f.windows[0].mean(0))


def test_bad_files_skipped_and_reported(dls, encoders, media_dir):
    _, enc_a = encoders
    good = list(dls.valid.items[:2])
    cut = media_dir/'transfer_cut.mp4'
    data = Path(good[0]).read_bytes(); cut.write_bytes(data[:len(data) // 2])
    mute = synth_clip(media_dir/'transfer_mute.mp4', secs=1.0, size=(32, 32), sample_rate=None)
    files = [good[0], cut, mute, good[1]]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        f = extract_features(enc_a, files, 'audio', clip_cfg=dls.clip_cfg, progress=False)
    assert f.idx.tolist() == [0, 3] and list(f.items) == [good[0], good[1]]
    assert [Path(p).name for p, _ in f.failed] == ['transfer_cut.mp4', 'transfer_mute.mp4']
    assert sum('2 of 4 files' in str(o.message) for o in w) == 1
    fv = extract_features(encoders[0], [mute], 'video', clip_cfg=dls.clip_cfg, progress=False)   # no audio is fine for video
    assert len(fv) == 1 and not fv.failed


def test_probe_random_audio_features_beats_chance(dls, encoders):
    _, enc_a = encoders
    tr, va = (extract_features(enc_a, d, 'audio', progress=False) for d in (dls.train, dls.valid))
    n_classes = len(dls.label_vocab)
    for model in ('logreg', 'svm'):
        r = linear_probe(tr.feats, tr.labels, va.feats, va.labels, model=model)
        assert r.accuracy > 1.5 / n_classes, (model, r.accuracy, r.search)
    assert knn_accuracy(tr.feats, tr.labels, va.feats, va.labels, k=3) > 1 / n_classes


def test_knn_monitor_in_table(dls, tmp_path):
    torch.manual_seed(0)
    learn = xdc_learner(dls, 'xdc', n_clusters=(4, 4), video_arch='r2plus1d_small', audio_arch='resnet_small_audio', pca_dim=16,
                        save_run=None, cbs=[KNNMonitor(k=5)], path=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit(1, 1e-3)
    names = list(learn.recorder.metric_names)[1:]
    row = dict(zip(names, learn.recorder.values[-1]))
    assert 0 <= row['knn_v'] <= 1 and 0 <= row['knn_a'] <= 1


@pytest.mark.parametrize('modality', ['video', 'audio'])
def test_finetune_one_epoch(synth_ds, modality, tmp_path):
    cdls = classification_dls(synth_ds, modality, bs=8, n_frames=4, size=32, crop=32, num_workers=0, progress=False)
    arch = 'r2plus1d_small' if modality == 'video' else 'resnet_small_audio'
    learn = finetune_learner(cdls, arch, path=tmp_path)
    learn.fine_tune(1, 1e-3, freeze_epochs=1)
    acc = learn.recorder.values[-1][2]
    assert 0 <= acc <= 1 and len(learn.opt.param_groups) == 2
    res = video_level_accuracy(learn, n_clips=2, progress=False)
    assert res['probs'].shape == (len(cdls.valid.items), len(cdls.vocab))
    assert 0 <= res['accuracy'] <= 1 and not res['failed']


def test_features_of_dataloaders_keep_labels(dls, encoders):
    _, enc_a = encoders
    f = extract_features(enc_a, dls, 'audio', progress=False)          # DataLoaders: every file, with its label
    assert list(f.items) == list(dls.files) and f.labels.tolist() == dls.labels.tolist()
    with pytest.raises(ValueError, match='stride needs window'): extract_features(enc_a, dls.valid, 'audio', stride=1.0)
    with pytest.raises(ValueError, match="'video' or 'audio'"): extract_features(enc_a, dls.valid, 'mel')
