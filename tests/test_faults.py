"Faults during a run, made real: training files that go bad between epochs, a checkpoint write on a full disk."
import shutil, warnings
from pathlib import Path
import pytest
import torch
from fastai.callback.core import Callback
from fastai.torch_core import set_seed
from xdc_fast.data.block import AVDataLoaders
from xdc_fast.learner import xdc_learner, RunCheckpoint
from xdc_fast.results import ClusterRun
from xdc_fast.transfer import extract_features

DL_KW = dict(bs=4, n_frames=4, size=32, crop=32)


class BreakFiles(Callback):
    "After epoch 0: delete one training file, truncate one, overwrite one with text (as a failing disk or a sync job would)."
    def __init__(self, files): self.files = files
    def after_epoch(self):
        if self.epoch != 0: return
        gone, cut, text = self.files
        gone.unlink()
        cut.write_bytes(cut.read_bytes()[:200])
        text.write_text('not a video any more\n' * 10)


class KeepWeights(Callback):
    "The training loader's sampling weights of the last epoch (the clustering callback clears them after the fit)."
    def after_train(self): self.w = self.dls.train.weights.clone()


def _learner(dls, **kw):
    set_seed(0)
    return xdc_learner(dls, 'xdc', n_clusters=(3, 3), video_arch='r2plus1d_small', audio_arch='resnet_small_audio', pca_dim=8,
                       recipe='paper', save_run=None, **kw)


@pytest.mark.parametrize('workers', [0, 2])
def test_files_going_bad_between_epochs(synth_ds, tmp_path, workers):
    "The next clustering leaves the three files out (label -1, never sampled, not in the metrics), names them, and the run goes on."
    d = tmp_path/'ds'
    shutil.copytree(synth_ds, d)
    dls = AVDataLoaders.from_folder(d, num_workers=workers, **DL_KW)
    learn = _learner(dls)
    bad = [Path(f) for f in dls.train.items[:3]]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        learn.fit(2, 1e-3, cbs=[BreakFiles(bad), keep := KeepWeights()])
    msgs = [str(x.message) for x in w if 'left out of this clustering' in str(x.message)]
    assert len(msgs) == 1 and msgs[0].startswith('ClusterCallback: 3 files failed to decode in the feature pass of epoch 1')
    assert all(str(f) in msgs[0] for f in bad)
    idx = [list(map(str, dls.files)).index(str(f)) for f in bad]
    st = learn.model.cluster_state
    for name in learn.model.clusterings:
        labels = st[name]['labels']
        assert (labels[idx] == -1).all()
        assert (labels[learn.cluster.clustered_ids] >= 0).all() and len(learn.cluster.clustered_ids) == len(dls.train.items) - 3
    assert sorted(map(str, learn.cluster.missing)) == sorted(map(str, bad))
    pos = [list(map(str, dls.train.items)).index(str(f)) for f in bad]
    assert (keep.w[pos] == 0).all() and keep.w.sum() > 0.99                                         # never sampled
    vals = learn.recorder.values[-1]
    assert all(torch.isfinite(torch.tensor(float(v))) for v in vals)                                # metrics from the good items
    run = ClusterRun.from_learner(learn)
    assert not set(idx) & set(run.train_ids.tolist()) and len(run.train_ids) == len(dls.train.items) - 3


def test_extract_features_survives_bad_files(synth_ds, tmp_path):
    "`extract_features` leaves a file that fails out, names it in `failed`, and returns the others."
    d = tmp_path/'ds'
    shutil.copytree(synth_ds, d)
    files = sorted(d.rglob('*.mp4'))[:6]
    files[1].write_text('meeting notes\n')
    learn = _learner(AVDataLoaders.from_folder(d, num_workers=0, **DL_KW))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        f = extract_features(learn.model.video_encoder, files, modality='video', n_frames=4, size=32, crop=32, num_workers=0, progress=False)
    assert [Path(p).name for p, _ in f.failed] == [files[1].name]
    assert len(f.items) == 5 and f.feats.shape[0] == 5 and torch.isfinite(f.feats).all()


def test_checkpoint_write_on_a_full_disk(synth_ds, tmp_path):
    "A failed checkpoint write (ENOSPC, made real with /dev/full) keeps the previous checkpoint and says what happened."
    dls = AVDataLoaders.from_folder(synth_ds, num_workers=0, **DL_KW)
    learn = _learner(dls)
    ckpt = tmp_path/'run'/'checkpoint.pth'
    learn.fit(1, 1e-3, cbs=RunCheckpoint(ckpt))
    before = ckpt.read_bytes()
    tmp = ckpt.with_name(ckpt.name + '.tmp')
    tmp.symlink_to('/dev/full')                                   # the next write goes to a device that is always full
    with pytest.raises(OSError, match=r"RunCheckpoint: writing the checkpoint of epoch 0 .* failed .*the previous checkpoint .*checkpoint\.pth is intact"):
        learn.fit(1, 1e-3, cbs=RunCheckpoint(ckpt))
    assert ckpt.read_bytes() == before and not tmp.exists()
    assert torch.load(ckpt, map_location='cpu', weights_only=True)['epoch'] == 0


class KillWorker(Callback):
    "At the second training batch of epoch 0, SIGKILL one decoding worker (as the out-of-memory killer would)."
    killed = None
    def after_batch(self):
        if not self.training or self.epoch != 0 or self.iter != 1 or self.killed: return
        import multiprocessing, os, signal
        kids = multiprocessing.active_children()
        assert kids, "no decoding worker to kill"
        self.killed = kids[0].pid
        os.kill(self.killed, signal.SIGKILL)


def test_decoding_worker_killed_mid_epoch(synth_ds):
    "The workers restart for the epoch's remaining batches; the fit finishes every epoch with finite losses."
    dls = AVDataLoaders.from_folder(synth_ds, num_workers=2, **DL_KW)
    learn = _learner(dls)
    kill = KillWorker()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        learn.fit(2, 1e-3, cbs=kill)
    assert kill.killed is not None
    msgs = [str(x.message) for x in w if 'the workers restart' in str(x.message)]
    assert len(msgs) == 1 and msgs[0].startswith('a decoding worker died ('), [str(x.message) for x in w]   # the cause: torch's RuntimeError or the queue's reset
    assert 'remaining' in msgs[0] and '(1 of 3 restarts)' in msgs[0], msgs[0]
    assert len(learn.recorder.values) == 2 and all(torch.isfinite(torch.tensor(float(v[0]))) for v in learn.recorder.values)
