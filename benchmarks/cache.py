#!/usr/bin/env python
"""Epoch time on AV-digits with the decoded-clip cache (`AVDataLoaders.from_folder(..., cache=True)`) against the baseline,
decoding every clip again each epoch with decoding workers, in the same run, at the paper table's settings (4 frames at
32 px, batch 64, training augmentation on).

Two epochs are timed for each loader:
  load   iterating the training loader (decoding or cache reads, batch transforms), no model
  train  one fastai epoch (training + validation pass) of supervised training of the small encoders (`r2plus1d_small` + `resnet_small_audio`, heads on the
         true digit), so the ratio says what the cache saves in a real epoch where the encoders cost what they cost
The cache's fill time (decoding every file once) is reported separately; it is paid once per run.

    python benchmarks/cache.py --data ../shared/data/avdigits --json benchmarks/results/cache.json
"""
import json as _json, os, platform, sys, time, warnings
from pathlib import Path
import torch
from fastcore.script import call_parse
import xdc_fast.core                        # first: fastai imported without its torch.jit.script warning
from fastai.learner import Learner
from xdc_fast.data.block import AVDataLoaders
from xdc_fast.models import get_encoder
from xdc_fast.models import XDCModel, MultiHeadLoss
sys.path.insert(0, str(Path(__file__).resolve().parent))
from epoch_overhead import TrueLabelTargets                      # item ids to the true labels, once per head

def epoch_times(dls):
    "Seconds for one pass over the training loader, and for one supervised training epoch."
    t = time.time()
    for _ in dls.train: pass
    load = time.time() - t
    torch.manual_seed(0)
    model = XDCModel(get_encoder('r2plus1d_small', input_norm='clip'), get_encoder('resnet_small_audio', input_norm='cmvn'),
                     [('v<-y', 'v', 'y'), ('a<-y', 'a', 'y')], {'y': ('label', len(dls.label_vocab))})
    learn = Learner(dls, model, loss_func=MultiHeadLoss(), cbs=TrueLabelTargets(dls.labels, 2))
    t = time.time()
    with learn.no_logging(), learn.no_bar(): learn.fit(1, 1e-3)
    return load, time.time() - t                    # a fastai epoch: training and its validation pass

from _args import normalise_argv
if __name__ == '__main__': normalise_argv()                    # --k-sweep or --k_sweep, with fastcore 1 or 2

@call_parse
def main(data:str='../shared/data/avdigits',  # folder of videos (AV-digits layout)
         workers:int=2,  # decoding worker processes of the baseline loader
         json:str=None,  # write the results here (JSON)
         disk:str='benchmarks/_work/clip_cache',  # folder of the memory-mapped cache (emptied first)
        ):
    "Epoch time with the decoded-clip cache against decoding every epoch, same run, ratio printed."
    warnings.filterwarnings('ignore')
    clip = dict(n_frames=4, fps=4, size=32, crop=32, bs=64, flip=False, crop_scale=(0.6, 1.), progress=False)
    base = AVDataLoaders.from_folder(data, num_workers=workers, **clip)
    t = time.time()
    cached = AVDataLoaders.from_folder(data, cache=True, **clip)
    fill = time.time() - t
    print(f"{data}: {len(base.train_ds)} training clips; cache filled in {fill:.1f} s ({cached.cache})", flush=True)
    import shutil; shutil.rmtree(disk, ignore_errors=True)
    t = time.time()
    on_disk = AVDataLoaders.from_folder(data, cache=disk, **clip)
    fill_disk = time.time() - t
    print(f"memory-mapped cache filled in {fill_disk:.1f} s ({on_disk.cache})", flush=True)
    res = {}
    for name, dls in (('decode every epoch', base), ('cache', cached), ('cache on disk', on_disk)):
        load, train = epoch_times(dls)
        res[name] = dict(load_s=round(load, 2), train_epoch_s=round(train, 2))
        print(f"{name:20s} load {load:6.1f} s   training epoch {train:6.1f} s", flush=True)
    r_load = res['decode every epoch']['load_s'] / res['cache']['load_s']
    r_train = res['decode every epoch']['train_epoch_s'] / res['cache']['train_epoch_s']
    print(f"cache vs decoding every epoch: loading {r_load:.1f}x faster, training epoch {r_train:.2f}x faster")
    r_load_d = res['decode every epoch']['load_s'] / res['cache on disk']['load_s']
    r_train_d = res['decode every epoch']['train_epoch_s'] / res['cache on disk']['train_epoch_s']
    print(f"memory-mapped cache vs decoding every epoch: loading {r_load_d:.1f}x faster, training epoch {r_train_d:.2f}x faster")
    if json:
        out = dict(res, fill_s=round(fill, 1), cache_mib=round(cached.cache.nbytes / 2**20), ratio_load=round(r_load, 2),
                   ratio_train_epoch=round(r_train, 2), fill_disk_s=round(fill_disk, 1), ratio_load_disk=round(r_load_d, 2),
                   ratio_train_epoch_disk=round(r_train_d, 2), machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                   f"{torch.get_num_threads()} threads", baseline_workers=workers, date=time.strftime('%Y-%m-%d'))
        Path(json).parent.mkdir(parents=True, exist_ok=True); Path(json).write_text(_json.dumps(out, indent=1))
