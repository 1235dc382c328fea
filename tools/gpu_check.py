"""What CPU CI cannot check, in one command on a CUDA machine (at most ~5 minutes):

    python tools/gpu_check.py [--out DIR] [--classes 4] [--clips 24]

| check      | what it does                                                                                           |
|------------|--------------------------------------------------------------------------------------------------------|
| gpu batch  | decode -> `AVDataLoaders` on the GPU: uint8 clips go to the device, normalised and cropped there       |
| fp16 fit   | `learn.to_fp16()` (fastai's autocast + gradient scaler): one XDC pretraining fit, finite losses, clusters|
| bf16 fit   | `learn.to_bf16()` (bfloat16 autocast, no scaler): the same fit                                         |
| faiss gpu  | k-means on the GPU and on the CPU of the same features: NMI of each with the truth, and between them   |
| nccl       | a one-process NCCL group: the collectives our seams use (broadcast_object, broadcast, all_gather) on the|
|            | GPU, then a DDP-wrapped pretraining fit (`XDCDistributedTrainer`) in that group                        |

It prints one row per check (ok / FAIL with the error, seconds, numbers) and exits 1 when any check fails.
On a machine without CUDA it says so and exits 0. The data are the project's own synthetic demo clips."""
import argparse, math, os, socket, sys, tempfile, time, traceback, warnings
from pathlib import Path


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=None, help='folder for the synthetic data (default: a temporary folder)')
    p.add_argument('--classes', type=int, default=4, help='synthetic classes')
    p.add_argument('--clips', type=int, default=24, help='clips per class')
    a = p.parse_args(argv)
    import torch
    if not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device on this machine (torch {torch.__version__}, CUDA build: {torch.version.cuda}); nothing to check")
        return 0
    import xdc_fast.core                                             # first: fastai without its torch.jit.script warning
    import torch.distributed as dist
    from fastai.torch_core import set_seed
    from xdc_fast.synthetic import make_synthetic_av
    from xdc_fast.data.block import AVDataLoaders
    from xdc_fast.learner import xdc_learner
    from xdc_fast.cluster import kmeans, nmi, use_faiss_gpu
    from xdc_fast.features import feature_pass
    from xdc_fast.distributed import XDCDistributedTrainer, unwrap

    out = Path(a.out or tempfile.mkdtemp(prefix='xdc_gpu_check_'))
    print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__} (CUDA {torch.version.cuda}); data in {out}", flush=True)
    path = make_synthetic_av(out/'data', n_classes=a.classes, clips_per_class=a.clips, seed=0)
    dls = AVDataLoaders.from_folder(path, bs=16, num_workers=2, n_frames=8, size=64, crop=56, device='cuda')
    rows = []

    def check(name, fn):
        t0 = time.time()
        try: ok, info = True, fn()
        except Exception as e:
            ok, info = False, f"{type(e).__name__}: {e}".splitlines()[0][:150]
            traceback.print_exc()
        rows.append((name, ok, time.time() - t0, info))
        print(f"{name:10s} {'ok' if ok else 'FAIL'}  ({time.time() - t0:.0f} s)  {info}", flush=True)

    def batch():
        v, m, ids = dls.one_batch()
        assert v.is_cuda and m.is_cuda, f"batch on {v.device}/{m.device}, expected cuda"
        assert v.dtype == torch.float32 and tuple(v.shape) == (16, 3, 8, 56, 56), f"video {tuple(v.shape)} {v.dtype}"
        assert abs(float(v.mean())) < 3 and torch.isfinite(m).all(), "video not normalised or non-finite spectrogram"
        return f"video {tuple(v.shape)} mel {tuple(m.shape)} on {v.device}"

    def fit(precision):
        def run():
            set_seed(0)
            learn = xdc_learner(dls, 'xdc', n_clusters=(4, 4), video_arch='r2plus1d_small', audio_arch='resnet_small_audio', save_run=None)
            learn = learn.to_fp16() if precision == 'fp16' else learn.to_bf16()
            with warnings.catch_warnings():
                warnings.filterwarnings('ignore', message='clustering .* is degenerate')
                learn.fit(2, 1e-3)
            losses = [float(v[0]) for v in learn.recorder.values]
            assert all(math.isfinite(l) for l in losses), f"losses {losses}"
            assert next(learn.model.parameters()).is_cuda, "model not on the GPU"
            assert 'targets' in learn.model.cluster_state, "no clustering"
            return f"train losses {', '.join(f'{l:.3f}' for l in losses)}"
        return run

    def faiss_gpu():
        assert use_faiss_gpu(), "faiss sees no GPU (faiss-gpu not installed, or a CPU-only faiss)"
        set_seed(0)
        learn = xdc_learner(dls, 'xdc', n_clusters=(4, 4), video_arch='r2plus1d_small', audio_arch='resnet_small_audio', save_run=None)
        fv, fa, seen = feature_pass(learn.model.cuda(), dls.train, dls=dls)
        x = fa[seen].numpy()
        truth = dls.labels[seen]
        lg, _ = kmeans(x, 4, 20, seed=0, gpu=True, n_redo=3)
        lc, _ = kmeans(x, 4, 20, seed=0, gpu=False, n_redo=3)
        n_g, n_c, n_gc = nmi(truth, lg), nmi(truth, lc), nmi(lg, lc)
        assert abs(n_g - n_c) < 0.1 and n_gc > 0.8, f"GPU and CPU k-means disagree: NMI truth {n_g:.3f} vs {n_c:.3f}, between {n_gc:.3f}"
        return f"audio features of {len(x)} clips: NMI with truth GPU {n_g:.3f} / CPU {n_c:.3f}, GPU vs CPU {n_gc:.3f}"

    def nccl():
        os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(_free_port()), RANK='0', WORLD_SIZE='1', LOCAL_RANK='0')
        torch.cuda.set_device(0)
        dist.init_process_group('nccl', rank=0, world_size=1)
        try:
            box = [{'labels': torch.arange(5)}]
            dist.broadcast_object_list(box, src=0, device=torch.device('cuda', 0))
            t = torch.arange(6., device='cuda'); dist.broadcast(t, src=0)
            parts = [torch.zeros(3, 2, device='cuda')]; dist.all_gather(parts, torch.ones(3, 2, device='cuda'))
            assert box[0]['labels'].tolist() == list(range(5)) and t.tolist() == list(range(6)) and parts[0].sum() == 6
            set_seed(0)
            learn = xdc_learner(dls, 'xdc', n_clusters=(4, 4), video_arch='r2plus1d_small', audio_arch='resnet_small_audio', save_run=None)
            learn.add_cb(XDCDistributedTrainer())
            with warnings.catch_warnings():
                warnings.filterwarnings('ignore', message='clustering .* is degenerate')
                learn.fit(1, 1e-3)
            loss = float(learn.recorder.values[-1][0])
            assert math.isfinite(loss), f"loss {loss}"
            return f"backend {dist.get_backend()}, collectives ok; fit in the group: train loss {loss:.3f}, model {type(learn.model).__name__} -> {type(unwrap(learn.model)).__name__}"
        finally: dist.destroy_process_group()

    check('gpu batch', batch)
    check('fp16 fit', fit('fp16'))
    check('bf16 fit', fit('bf16'))
    check('faiss gpu', faiss_gpu)
    check('nccl', nccl)
    print(f"\n| check | result | seconds | details |\n|---|---|---|---|")
    for name, ok, secs, info in rows: print(f"| {name} | {'ok' if ok else 'FAIL'} | {secs:.0f} | {info} |")
    failed = [r[0] for r in rows if not r[1]]
    print(f"\ngpu_check: {len(rows) - len(failed)} of {len(rows)} checks passed" + (f"; failed: {', '.join(failed)}" if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
