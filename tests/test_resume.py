"A pretraining run interrupted after an epoch and resumed from its checkpoint ends exactly like an uninterrupted run."
import warnings
import torch
from fastai.callback.core import Callback, CancelFitException
from fastai.torch_core import set_seed
from xdc_fast.synthetic import make_synthetic_av
from xdc_fast.data.block import AVDataLoaders
from xdc_fast.learner import xdc_learner, RunCheckpoint


class Interrupt(Callback):
    "Stop the run after epoch `after`, as a killed job would (after its checkpoint was written)."
    order = RunCheckpoint.order + 1
    def __init__(self, after): self.after = after
    def after_epoch(self):
        if self.epoch == self.after: raise CancelFitException()


def _run(data, ckpt, variant, resume=False, interrupt=None):
    set_seed(7)
    dls = AVDataLoaders.from_folder(data, bs=8, n_frames=4, size=32, crop=32, num_workers=0, progress=False)
    learn = xdc_learner(dls, variant, n_clusters=(3, 3), video_arch='r2plus1d_small', audio_arch='resnet_small_audio', pca_dim=16, recipe='paper')
    learn.init_stem = learn.model.video_encoder.stem[0].weight.detach().clone()
    start = learn.resume(ckpt) if resume else 0
    cbs = [RunCheckpoint(ckpt)] + ([Interrupt(interrupt)] if interrupt is not None else [])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit_one_cycle(3, 1e-3, cbs=cbs, start_epoch=start)
    return learn


def test_resume_gives_the_uninterrupted_run(tmp_path):
    data = make_synthetic_av(tmp_path/'data', n_classes=3, clips_per_class=8)
    for variant in ('xdc',):
        full = _run(data, tmp_path/f'{variant}-full.pth', variant)
        _run(data, tmp_path/f'{variant}.pth', variant, interrupt=0)            # killed after the first of 3 epochs
        assert (tmp_path/f'{variant}.pth').exists() and not (tmp_path/f'{variant}.pth.tmp').exists()
        resumed = _run(data, tmp_path/f'{variant}.pth', variant, resume=True)
        sf, sr = full.model.cluster_state, resumed.model.cluster_state
        assert sr.epoch == 2 and list(sr.clusterings) == list(sf.clusterings) == list(full.model.clusterings)
        for name, c in sf.clusterings.items():
            for field, t in c.items(): assert torch.equal(t, sr[name][field]), (name, field)
        assert torch.equal(sf.targets, sr.targets)
        for (name, p), q in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
            if name != 'cluster_state._extra_state': assert torch.equal(p, q), name     # the clustering state: compared above
        assert not torch.equal(full.init_stem, full.model.video_encoder.stem[0].weight)   # training changed the weights
