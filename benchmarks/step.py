#!/usr/bin/env python
"""The small encoders' training step on the CPU, at the paper table's settings (AV-digits, batch 64, 4 frames at 32 px,
40 mel bands, `r2plus1d_small` + `resnet_small_audio`, XDC with k=16), three ways in the same run:

  plain          the baseline: what `xdc_learner` builds (contiguous weights, float32)
  channels_last  the convolution weights re-laid channels-last (`learn.to_channels_last()`: `channels_last_3d` for video, `channels_last` for audio)
  bf16           bfloat16 autocast of the forward pass and loss (`learn.to_mixed(cpu_bf16=True)`, `CPUAutocast`)
  cl + bf16      both

Three measures, each against `plain`:
  grad   relative error of each encoder's parameter gradients (one forward/backward on one real batch, the same
         weights) against a float64 copy of the plain model: what float32 rounding alone gives is the `plain` row
         (CMVN divides near-silent mel bands by their tiny spread, which amplifies rounding in the audio encoder)
  step   forward + loss + backward + optimiser step of `learn.model` on one real batch (cross-entropy on fixed
         labels for every head), `--steps` timed steps after 3 warm-up steps, best of `--repeats` rounds
  epoch  one `learn.fit(1)` of each learner (re-clustering, training and validation passes), after one warm-up fit,
         `--repeats` fits interleaved across the three learners so that load from elsewhere hits all alike; best kept

    python benchmarks/step.py --data ../shared/data/avdigits --json benchmarks/results/step.json
"""
import json as _json, os, platform, sys, time, warnings
from pathlib import Path
import torch
import torch.nn.functional as F
from fastcore.script import call_parse, store_true
import xdc_fast.core                        # first: fastai imported without its torch.jit.script warning
from xdc_fast.data.block import AVDataLoaders
from xdc_fast.learner import xdc_learner, to_channels_last
from xdc_fast.synthetic import make_synthetic_av
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _args import normalise_argv
if __name__ == '__main__': normalise_argv()

MODES = {'plain': dict(channels_last=False, bf16=False), 'channels_last': dict(channels_last=True, bf16=False),
         'bf16': dict(channels_last=False, bf16=True), 'cl + bf16': dict(channels_last=True, bf16=True)}

def make_learner(dls, channels_last, bf16):
    torch.manual_seed(0)
    learn = xdc_learner(dls, 'xdc', n_clusters=(16, 16), video_arch='r2plus1d_small', audio_arch='resnet_small_audio', save_run=None)
    if channels_last: to_channels_last(learn.model)
    if bf16: learn.to_mixed(cpu_bf16=True)
    return learn

def _loss(model, video, mel, y, bf16=False):
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
        return sum(F.cross_entropy(o.float(), y) for o in model(video, mel)[:len(model.head_plan)])

def grad_error(learn, ref_grads, batch, y, bf16)->dict:
    "Relative error (norm of the difference over the norm) of each encoder's gradients, and of the worst single tensor."
    model = learn.model.train(); model.zero_grad()
    _loss(model, *batch, y, bf16).backward()
    g = {n: p.grad.double() for n, p in model.named_parameters() if p.grad is not None}
    out = {}
    for enc in ('video_encoder', 'audio_encoder'):
        names = [n for n in ref_grads if n.startswith(enc + '.')]
        num = sum((g[n] - ref_grads[n]).square().sum() for n in names); den = sum(ref_grads[n].square().sum() for n in names)
        out[f'{enc[:5]}_grad_err'] = (num / den).sqrt().item()
        out[f'{enc[:5]}_worst_tensor_err'] = max(((g[n] - ref_grads[n]).norm() / ref_grads[n].norm().clamp_min(1e-12)).item() for n in names)
    return out

def step_time(learn, batch, bf16, steps, repeats):
    "Best mean seconds per training step (forward, loss, backward, AdamW step) over `repeats` rounds of `steps`."
    model = learn.model.train()
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    video, mel = batch
    y = torch.randint(0, 16, (video.shape[0],), generator=torch.Generator().manual_seed(0))
    def step():
        loss = _loss(model, video, mel, y, bf16)
        opt.zero_grad(); loss.backward(); opt.step()
    for _ in range(3): step()
    best = float('inf')
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps): step()
        best = min(best, (time.perf_counter() - t) / steps)
    return best

@call_parse
def main(data:str='../shared/data/avdigits',  # folder of videos (AV-digits layout); missing: a synthetic set is made
         steps:int=10,  # timed steps per round
         repeats:int=3,  # rounds (step) and timed fits (epoch) per mode; the best is kept
         no_epochs:store_true=False,  # skip timing whole epochs (`fit(1)`)
         json:str=None,  # write the results here (JSON)
        ):
    "Gradient error, training-step and epoch time of the small encoders: plain vs channels-last vs bf16 autocast, ratios printed."
    warnings.filterwarnings('ignore')
    if not Path(data).is_dir():
        data = Path('benchmarks/_work/synth_step')
        if not data.exists(): make_synthetic_av(data, n_classes=4, clips_per_class=64)
    dls = AVDataLoaders.from_folder(data, bs=64, n_frames=4, fps=4, size=32, crop=32, flip=False, crop_scale=(0.6, 1.),
                                    progress=False, cache=True)
    batch = tuple(t.as_subclass(torch.Tensor) for t in dls.one_batch()[:2])
    print(f"{data}: {len(dls.train_ds)} training clips, batch {tuple(batch[0].shape)} video, {tuple(batch[1].shape)} mel; "
          f"{torch.get_num_threads()} threads", flush=True)
    learners = {name: make_learner(dls, **m) for name, m in MODES.items()}
    y = torch.randint(0, 16, (batch[0].shape[0],), generator=torch.Generator().manual_seed(1))
    ref = make_learner(dls, False, False).model.double().train()
    _loss(ref, *(t.double() for t in batch), y).backward()
    ref_grads = {n: p.grad.clone() for n, p in ref.named_parameters() if p.grad is not None}; del ref
    res = {}
    for name, m in MODES.items():
        res[name] = r = grad_error(learners[name], ref_grads, batch, y, m['bf16'])
        print(f"grad   {name:14s} relative error vs float64: video encoder {r['video_grad_err']:.1e} (worst tensor {r['video_worst_tensor_err']:.1e}), "
              f"audio encoder {r['audio_grad_err']:.1e} (worst tensor {r['audio_worst_tensor_err']:.1e})", flush=True)
    for name, m in MODES.items(): res[name]['step_s'] = step_time(learners[name], batch, m['bf16'], steps, repeats)
    base = res['plain']['step_s']
    for name, r in res.items():
        r['step_ratio'] = base / r['step_s']
        print(f"step   {name:14s} {r['step_s'] * 1000:7.1f} ms   {r['step_ratio']:.2f}x plain", flush=True)
    if not no_epochs:
        learners = {name: make_learner(dls, **m) for name, m in MODES.items()}    # fresh weights: the step runs trained them
        for learn in learners.values():
            with learn.no_logging(), learn.no_bar(): learn.fit(1, 1e-3)         # warm-up (first clustering, allocator)
        for name in MODES: res[name]['epoch_s'] = float('inf')
        for _ in range(repeats):
            for name, learn in learners.items():
                t = time.time()
                with learn.no_logging(), learn.no_bar(): learn.fit(1, 1e-3)
                res[name]['epoch_s'] = min(res[name]['epoch_s'], time.time() - t)
        base = res['plain']['epoch_s']
        for name, r in res.items():
            r['epoch_ratio'] = base / r['epoch_s']
            print(f"epoch  {name:14s} {r['epoch_s']:7.1f} s    {r['epoch_ratio']:.2f}x plain", flush=True)
    if json:
        out = dict(results={k: {kk: float(f'{vv:.4g}') for kk, vv in v.items()} for k, v in res.items()}, data=str(data), baseline='plain',
                   machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads",
                   torch=torch.__version__, date=time.strftime('%Y-%m-%d'), steps=steps, repeats=repeats)
        Path(json).parent.mkdir(parents=True, exist_ok=True); Path(json).write_text(_json.dumps(out, indent=1))
