"A run is a function of its seed and settings: the same seed gives the same run, also when something watches it."
import warnings
import torch
from fastai.callback.core import Callback
from xdc_fast.core import keep_rng
from xdc_fast.data.block import AVDataLoaders
from xdc_fast.learner import xdc_learner
from xdc_fast.transfer import KNNMonitor


class Watch(Callback):
    "A side pass after every epoch, as a probe curve does: a new loader over every file, iterated."
    order = 100
    def after_epoch(self):
        va = self.dls.valid
        dl = va.new(shuffle=False)
        for _ in dl: pass


def _run(path, seed, cbs=(), heads='reinit'):
    torch.manual_seed(seed)                             # the encoders' initialisation
    dls = AVDataLoaders.from_folder(path, bs=8, n_frames=2, size=32, crop=32, num_workers=0, progress=False, cache=True)
    learn = xdc_learner(dls, 'xdc', n_clusters=(3, 3), video_arch='r2plus1d_tiny', audio_arch='resnet_tiny_audio', seed=seed,
                        save_run=None, warmup_epochs=1, heads=heads, cbs=list(cbs))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit_one_cycle(3, 2e-3)
    return learn


def _same(a, b):
    for (n, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        if torch.is_tensor(p) and not torch.equal(p, q): return n
    return None


def test_same_seed_same_run_even_when_watched(synth_ds):
    a = _run(synth_ds, 3)
    b = _run(synth_ds, 3, cbs=[Watch(), KNNMonitor()])          # two observers that build and iterate loaders
    assert _same(a, b) is None, f"{_same(a, b)} differs between two runs of seed 3"
    assert torch.equal(a.model.cluster_state.targets, b.model.cluster_state.targets)
    c = _run(synth_ds, 4)
    assert _same(a, c) is not None                                # another seed: another run


def test_fitted_heads_predict_their_labels(synth_ds):
    learn = _run(synth_ds, 0, heads='fit')
    cc = learn.cluster
    assert 0 <= cc.log['acc_v<-a3'] <= 1 and cc.log['ce_v<-a3'] > 0   # the per-head diagnostics are in the log
    assert 'nce' in cc.log and 'purity_v3' in cc.log
