#!/usr/bin/env python
"""Clip-decoding benchmark: `xdc_fast.data.decode.decode_clip` against naive PyAV and torchcodec.

One "clip" is what a training loader asks for: 8 frames at 16 fps, resized to short side 112 and
centre-cropped to 112x112 (uint8 RGB, `(8,112,112,3)`), plus the centred 1 s mono 16 kHz audio window
(`(16000,)` float32), from a random start in a 10 s, 320x240, 30 fps H.264 + 44.1 kHz stereo AAC file
(libx264 defaults, so a keyframe only every 250 frames).

Methods (same (file, start) pairs, same output shapes):
  decode_clip           xdc_fast.data.decode.decode_clip on the original files
  naive                 PyAV from the start, every frame to full-size RGB, torch resize, torchaudio resample
  torchcodec            VideoDecoder(num_ffmpeg_threads=1).get_frames_played_at + AudioDecoder window
  torchcodec-approx     the same with seek_mode='approximate' (extra row, not in the targets)
  decode_clip-prepared  decode_clip on files re-encoded by prepare_videos (16 fps, short side 128, gop 8)

    python benchmarks/decode.py [--n-files 8] [--clips 40] [--workers 1 2] [--out benchmarks/results/decode.json]
"""
import argparse, datetime, json, math, multiprocessing as mp, os, platform, random, sys, time, warnings
from pathlib import Path
import numpy as np
import torch
import torch.nn.functional as F
import av
warnings.filterwarnings("ignore", message=".*torch.jit.script.*")

HERE = Path(__file__).resolve().parent
WORK = HERE/'_work'
GEN_VERSION = 1                      # bump when the content of the generated files changes
SECS, SRC_FPS, SRC_H, SRC_W, SRC_SR = 10.0, 30, 240, 320, 44100
N_FRAMES, FPS, SIZE, AUDIO_SECS, SR = 8, 16, 112, 1.0, 16000
CLIP_SECS = N_FRAMES / FPS
TARGETS = {'decode_clip/torchcodec': 1.2, 'decode_clip/naive': 3.0, 'prepared/torchcodec': 5.0}

# ---------------------------------------------------------------- test files
def _smooth_noise(rng, h, w, cells):
    "Noise on a coarse grid of `cells` rows, upsampled bicubically to (3,h,w)."
    g = torch.from_numpy(rng.standard_normal((1, 3, cells, max(2, round(cells * w / h)))).astype(np.float32))
    return F.interpolate(g, size=(h, w), mode='bicubic', align_corners=False)[0].numpy()

def _coloured_noise(rng, n, alpha=1.0):
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= (np.arange(len(spec)) + 1.0) ** (alpha / 2)
    x = np.fft.irfft(spec, n)
    return x / (np.abs(x).max() + 1e-8)

def make_content(seed, secs=SECS, fps=SRC_FPS, h=SRC_H, w=SRC_W, sr=SRC_SR):
    """Camera-like frames and stereo audio: a multi-scale texture panning along a smooth path, a drifting
    colour gradient, a moving object and film grain, so that x264 produces real P/B frames (not a
    near-empty stream); audio is gliding harmonics over pink noise, different in each channel."""
    rng = np.random.default_rng(seed)
    n = int(round(secs * fps))
    H, W = 2 * h, 2 * w
    tex = rng.uniform(70, 180, (3, 1, 1)).astype(np.float32)
    for cells, amp in ((4, 55), (16, 35), (64, 20), (240, 10)): tex = tex + amp * _smooth_noise(rng, H, W, cells)
    tex = tex.transpose(1, 2, 0)                                          # (H,W,3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ph, fr = rng.uniform(0, 2 * np.pi, 4), rng.uniform(0.05, 0.2, 4)      # pan path: phases, frequencies (Hz)
    col = rng.uniform(-1, 1, 3).astype(np.float32)
    obj = rng.uniform(0, 255, 3).astype(np.float32)
    frames = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        s = t / fps
        dy = int((H - h) / 2 * (1 + np.sin(2 * np.pi * fr[0] * s + ph[0])))
        dx = int((W - w) / 2 * (1 + np.sin(2 * np.pi * fr[1] * s + ph[1])))
        f = tex[dy:dy + h, dx:dx + w].copy()
        f += 30 * np.sin(2 * np.pi * (xx / w * 1.3 + yy / h * 0.4 - 0.25 * s))[..., None] * col
        cy = h / 2 + h / 3 * np.sin(2 * np.pi * fr[2] * s + ph[2]); cx = w / 2 + w / 3 * np.sin(2 * np.pi * fr[3] * s + ph[3])
        m = (yy - cy) ** 2 + (xx - cx) ** 2 < 28 ** 2
        f[m] = 0.7 * obj + 0.3 * f[m]
        f += rng.normal(0, 2.5, (h, w, 1)).astype(np.float32)              # grain
        frames[t] = np.clip(f, 0, 255).astype(np.uint8)
    m = int(round(secs * sr)); tt = np.arange(m) / sr
    audio = np.empty((2, m), np.float32)
    for ch in range(2):
        f0 = rng.uniform(110, 440) * 2 ** (0.5 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * tt))   # gliding pitch
        phase = 2 * np.pi * np.cumsum(f0) / sr
        x = sum(0.3 / k * np.sin(k * phase) for k in (1, 2, 3))
        x = x * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * tt)) + 0.15 * _coloured_noise(rng, m)
        audio[ch] = x / max(1.0, np.abs(x).max() * 1.05)
    return frames, audio

def _write_one(job):
    from xdc_fast.synthetic import write_av
    i, path = job
    frames, audio = make_content(1000 + i)
    tmp = Path(path).with_name(Path(path).stem + '.part.mp4')
    write_av(tmp, frames, audio, fps=SRC_FPS, sample_rate=SRC_SR, vcodec='libx264', acodec='aac')   # gop: x264 default
    tmp.replace(path)
    return str(path)

def make_files(n_files, src):
    "The `n_files` test files in `src` (made once, reused while GEN_VERSION is unchanged); seconds spent making them."
    src.mkdir(parents=True, exist_ok=True)
    stamp = src/'.version'
    if not stamp.exists() or stamp.read_text() != str(GEN_VERSION):
        for f in src.glob('*.mp4'): f.unlink()
        stamp.write_text(str(GEN_VERSION))
    for f in src.glob('*.mp4'):                                            # exactly n_files: prepare_videos takes the folder
        if f.name.endswith('.part.mp4') or int(f.stem.split('_')[1]) >= n_files: f.unlink()
    paths = [src/f'video_{i:03d}.mp4' for i in range(n_files)]
    todo = [(i, p) for i, p in enumerate(paths) if not p.exists()]
    t0 = time.perf_counter()
    if todo:
        with mp.get_context('fork').Pool(min(len(todo), os.cpu_count() or 1)) as pool: pool.map(_write_one, todo)
    return paths, time.perf_counter() - t0

# ---------------------------------------------------------------- methods
def _resize_crop(x):
    "(T,H,W,3) uint8 -> short side SIZE (bilinear, antialiased, as torchvision's Resize) -> centre SIZExSIZE crop."
    T, H, W, _ = x.shape
    s = SIZE / min(H, W)
    h, w = max(SIZE, round(H * s)), max(SIZE, round(W * s))
    y = F.interpolate(x.permute(0, 3, 1, 2), size=(h, w), mode='bilinear', antialias=True, align_corners=False)
    top, left = (h - SIZE) // 2, (w - SIZE) // 2
    return y[:, :, top:top + SIZE, left:left + SIZE].permute(0, 2, 3, 1).contiguous()

def _fit(a, n):
    "1-d tensor `a` cut or zero-padded to `n` samples."
    return a[:n] if len(a) >= n else torch.cat([a, a.new_zeros(n - len(a))])

def _windows(start):
    "Frame times and the centred audio window, in s from the video's first frame."
    a0 = start + CLIP_SECS / 2 - AUDIO_SECS / 2
    return [start + i / FPS for i in range(N_FRAMES)], a0, a0 + AUDIO_SECS

def m_decode_clip(path, start):
    from xdc_fast.data.decode import decode_clip
    return decode_clip(path, start=start, n_frames=N_FRAMES, fps=FPS, size=SIZE, audio_secs=AUDIO_SECS, sample_rate=SR)

def m_naive(path, start):
    "No seeking: demux from the start, every video frame to full-size RGB, audio decoded from the start and resampled whole."
    import torchaudio.functional as AF
    times, a0, a1 = _windows(start)
    picked, j, prev, chunks, a_first = [None] * N_FRAMES, 0, None, [], None
    with av.open(str(path)) as c:
        vs, as_ = c.streams.video[0], c.streams.audio[0]
        origin = float(vs.start_time * vs.time_base) if vs.start_time is not None else 0.
        sr_in, v_done, a_done, n_in = as_.rate, False, False, 0
        for pkt in c.demux(vs, as_):
            if pkt.stream.type == 'video':
                if v_done: continue
                for fr in pkt.decode():
                    rgb, t = fr.to_ndarray(format='rgb24'), fr.time - origin
                    while j < N_FRAMES and times[j] < t - 1e-6: picked[j] = prev if prev is not None else rgb; j += 1
                    prev = rgb
                    if j == N_FRAMES: v_done = True; break
            else:
                if a_done: continue
                for fr in pkt.decode():
                    if a_first is None: a_first = fr.time - origin
                    x = fr.to_ndarray(); chunks.append(x); n_in += x.shape[-1]
                    if a_first + n_in / sr_in >= a1 + 0.05: a_done = True; break
            if v_done and a_done: break
    for k in range(j, N_FRAMES): picked[k] = prev                           # past the end: last frame stays
    v = _resize_crop(torch.from_numpy(np.stack(picked)))
    x = torch.from_numpy(np.concatenate(chunks, axis=-1)).float().mean(0)   # (channels,samples) planar -> mono
    x = AF.resample(x, sr_in, SR)
    off = int(round((a0 - a_first) * SR))
    a = x[max(off, 0):off + int(AUDIO_SECS * SR)]
    if off < 0: a = torch.cat([a.new_zeros(-off), a])
    return v, _fit(a, int(AUDIO_SECS * SR))

def m_torchcodec(path, start, seek_mode='exact'):
    from torchcodec.decoders import VideoDecoder, AudioDecoder
    times, a0, a1 = _windows(start)
    d = VideoDecoder(str(path), dimension_order='NHWC', num_ffmpeg_threads=1, seek_mode=seek_mode)
    origin = d.metadata.begin_stream_seconds_from_header or 0.
    v = _resize_crop(d.get_frames_played_at(seconds=[origin + t for t in times]).data)
    a = AudioDecoder(str(path), sample_rate=SR, num_channels=1).get_samples_played_in_range(origin + a0, origin + a1).data[0]
    return v, _fit(a, int(AUDIO_SECS * SR))

def m_torchcodec_approx(path, start): return m_torchcodec(path, start, seek_mode='approximate')

METHODS = {  # name: (function, which files)
    'decode_clip': (m_decode_clip, 'orig'),
    'naive': (m_naive, 'orig'),
    'torchcodec': (m_torchcodec, 'orig'),
    'torchcodec-approx': (m_torchcodec_approx, 'orig'),
    'decode_clip-prepared': (m_decode_clip, 'prep'),
}

# ---------------------------------------------------------------- workers
_PATHS = {}
def _init(paths):
    torch.set_num_threads(1)
    _PATHS.update(paths)

def _job(job):
    name, i, start = job
    fn, kind = METHODS[name]
    c0 = time.process_time()                     # this process's CPU time, FFmpeg's own threads included
    v, a = fn(_PATHS[kind][i], start)
    cpu = time.process_time() - c0
    assert v.shape == (N_FRAMES, SIZE, SIZE, 3) and v.dtype == torch.uint8, (name, v.shape, v.dtype)
    assert a.shape == (int(AUDIO_SECS * SR),) and a.dtype == torch.float32, (name, a.shape, a.dtype)
    return v.numpy(), a.numpy(), cpu             # numpy: plain pickling, as a DataLoader's batch would travel

def measure(names, pairs, paths, workers, repeats=3):
    """{name: (clips/s, CPU ms per clip)} with `workers` processes: one warm-up round per method, then `repeats`
    rounds in which the methods take turns (so a change in the machine's load hits them all alike); best round counts."""
    best = {n: (math.inf, math.inf) for n in names}
    with mp.get_context('fork').Pool(workers, initializer=_init, initargs=(paths,)) as pool:
        for n in names: pool.map(_job, [(n, i, s) for i, s in pairs[:workers]], chunksize=1)       # warm-up
        for r in range(repeats):
            for n in names[r % len(names):] + names[:r % len(names)]:
                t0 = time.perf_counter()
                res = pool.map(_job, [(n, i, s) for i, s in pairs], chunksize=1)
                dt, cpu = time.perf_counter() - t0, sum(o[2] for o in res)
                best[n] = (min(best[n][0], dt), min(best[n][1], cpu))
    return {n: (len(pairs) / dt, 1000 * cpu / len(pairs)) for n, (dt, cpu) in best.items()}

# ---------------------------------------------------------------- agreement
def agreement(paths, pair, names, ref='torchcodec'):
    "Mean abs difference (uint8 levels) of each method's frames, and max abs difference of its audio, against `ref`."
    i, s = pair
    _init(paths)
    ref_v, ref_a = (torch.from_numpy(o) for o in _job((ref, i, s))[:2])
    out = {}
    for name in names:
        v, a = (torch.from_numpy(o) for o in _job((name, i, s))[:2])
        out[name] = dict(frames_mean_abs_diff=round((v.float() - ref_v.float()).abs().mean().item(), 3),
                         audio_max_abs_diff=round((a - ref_a).abs().max().item(), 4),
                         audio_corr=round(float(np.corrcoef(a.numpy(), ref_a.numpy())[0, 1]), 4))
    return out

def same_frames(paths, pairs):
    """Frame picking, without resizing: decode_clip(size=None) against torchcodec's full-size frames on every pair.
    Returns the largest per-frame mean abs difference (a wrong frame gives tens of levels; the same frame ~0-1)."""
    from xdc_fast.data.decode import decode_clip
    from torchcodec.decoders import VideoDecoder
    worst = 0.
    for i, s in pairs:
        path = paths['orig'][i]
        v = decode_clip(path, start=s, n_frames=N_FRAMES, fps=FPS, size=None, audio=False)[0].float()
        d = VideoDecoder(path, dimension_order='NHWC', num_ffmpeg_threads=1)
        r = d.get_frames_played_at(seconds=[d.metadata.begin_stream_seconds_from_header + t for t in _windows(s)[0]]).data.float()
        worst = max(worst, (v - r).abs().mean((1, 2, 3)).max().item())
    return worst

# ---------------------------------------------------------------- main
def file_facts(path):
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        keys = sum(p.is_keyframe for p in c.demux(vs) if p.size)
    return dict(bytes=Path(path).stat().st_size, keyframes=keys, kbps=round(Path(path).stat().st_size * 8 / SECS / 1000))

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n-files', type=int, default=8)
    p.add_argument('--clips', type=int, default=40, help='clips per (method, workers) measurement')
    p.add_argument('--workers', type=int, nargs='+', default=[1, 2])
    p.add_argument('--repeats', type=int, default=3, help='timed rounds per measurement, methods taking turns; the best counts')
    p.add_argument('--methods', nargs='+', default=list(METHODS), choices=list(METHODS))
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=str(HERE/'results'/'decode.json'))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from xdc_fast.data.decode import clip_starts, probe_video
    from xdc_fast.data.prepare import prepare_videos

    src, dst = WORK/'orig', WORK/'prepared'
    files, gen_s = make_files(args.n_files, src)
    facts = file_facts(files[0])
    print(f"{len(files)} test files in {src} ({'made in %.1fs' % gen_s if gen_s > 0.01 else 'reused'}): "
          f"10 s, {SRC_W}x{SRC_H}, {SRC_FPS} fps H.264 (~{facts['kbps']} kb/s, {facts['keyframes']} keyframes), "
          f"{SRC_SR} Hz stereo AAC", flush=True)
    t0 = time.perf_counter()
    bad = prepare_videos(src, dst, fps=FPS, short_side=128, gop=8, sample_rate=SR, overwrite=True, progress=False)
    prep_s = time.perf_counter() - t0
    if bad: sys.exit(f"prepare_videos failed: {bad}")
    prep_workers = os.cpu_count() or 1
    print(f"prepare_videos: {prep_s:.2f}s wall for {len(files)} files with {prep_workers} processes "
          f"(~{prep_s * prep_workers / len(files):.2f} CPU-s per 10 s file)", flush=True)
    paths = {'orig': [str(f) for f in files], 'prep': [str(dst/f.name) for f in files]}

    rng = random.Random(args.seed)
    dur = probe_video(files[0])['duration']
    pairs = [(rng.randrange(len(files)), round(clip_starts(dur, CLIP_SECS, AUDIO_SECS, 'random', rng=rng)[0], 4))
             for _ in range(args.clips)]

    tc_ok = _torchcodec_works(files[0])
    if tc_ok is not True:
        print(f"torchcodec cannot decode here, its rows are left out: {tc_ok}\n"
              "  (torchcodec needs FFmpeg's shared libraries 4-7 on the system, e.g. `apt-get install ffmpeg`)")
        args.methods = [m for m in args.methods if not m.startswith('torchcodec')]
    ref = 'torchcodec' if tc_ok is True else 'naive'
    agree = agreement(paths, pairs[0], args.methods, ref)
    print(f"\nagreement with {ref} on file {pairs[0][0]}, start {pairs[0][1]:.3f}s "
          "(frames: mean |diff| in uint8 levels; audio: max |diff|, correlation):")
    for k, d in agree.items():
        print(f"  {k:22s} frames {d['frames_mean_abs_diff']:6.2f}   audio {d['audio_max_abs_diff']:.4f}  corr {d['audio_corr']:.4f}")
    picking = same_frames(paths, pairs) if tc_ok is True else None
    if picking is not None: print(f"frame picking on all {len(pairs)} clips at full size (decode_clip size=None vs torchcodec): "
          f"largest per-frame mean |diff| {picking:.2f} ({'same frames' if picking < 3 else 'DIFFERENT FRAMES'})", flush=True)

    load0, rows = os.getloadavg()[0], []
    for w in args.workers:
        for name, (cps, cpu) in measure(args.methods, pairs, paths, w, args.repeats).items():
            rows.append(dict(method=name, workers=w, clips_per_s=round(cps, 2), cpu_ms_per_clip=round(cpu, 1)))
            print(f"  measured {name:22s} workers={w}: {cps:7.1f} clips/s, {cpu:6.1f} CPU-ms/clip", flush=True)
    load1 = os.getloadavg()[0]
    get = {(r['method'], r['workers']): r['clips_per_s'] for r in rows}
    for r in rows:
        tc, nv = get.get(('torchcodec', r['workers'])), get.get(('naive', r['workers']))
        r['vs_torchcodec'] = round(r['clips_per_s'] / tc, 2) if tc else None
        r['vs_naive'] = round(r['clips_per_s'] / nv, 2) if nv else None

    print(f"\nload average (1 min) before/after the measurements: {load0:.2f} / {load1:.2f} on {os.cpu_count()} cores")
    print("\n| method | workers | clips/s | vs torchcodec | vs naive | CPU ms/clip |\n|---|---:|---:|---:|---:|---:|")
    fmt = lambda x: '-' if x is None else f'{x:.2f}x'
    for r in rows: print(f"| {r['method']} | {r['workers']} | {r['clips_per_s']:.1f} | {fmt(r['vs_torchcodec'])} | {fmt(r['vs_naive'])} | {r['cpu_ms_per_clip']:.1f} |")

    cpu = {(r['method'], r['workers']): r['cpu_ms_per_clip'] for r in rows}
    pairs_of = {'decode_clip/torchcodec': ('decode_clip', 'torchcodec'), 'decode_clip/naive': ('decode_clip', 'naive'),
                'prepared/torchcodec': ('decode_clip-prepared', 'torchcodec')}
    ratios, cpu_ratios = {}, {}
    for w in args.workers:
        ratios[w] = {k: (round(get[a, w] / get[b, w], 2) if (a, w) in get and (b, w) in get else None) for k, (a, b) in pairs_of.items()}
        cpu_ratios[w] = {k: (round(cpu[b, w] / cpu[a, w], 2) if (a, w) in cpu and (b, w) in cpu else None) for k, (a, b) in pairs_of.items()}
    show = lambda v, k: '-' if v is None else f"{v:.2f}x{' ok' if v >= TARGETS[k] else ' MISSED'}"
    print("\nheadline ratios, clips/s (target: " + ', '.join(f'{k} >= {t}x' for k, t in TARGETS.items()) + "):")
    for w, rs in ratios.items(): print(f"  workers={w}: " + ', '.join(f"{k} {show(v, k)}" for k, v in rs.items()))
    print("same ratios from CPU time per clip (less sensitive to other load on the machine):")
    for w, rs in cpu_ratios.items(): print(f"  workers={w}: " + ', '.join(f"{k} {show(v, k)}" for k, v in rs.items()))

    out = Path(args.out); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(
        date=datetime.datetime.now().isoformat(timespec='seconds'),
        machine=dict(cpus=os.cpu_count(), loadavg_1min=[round(load0, 2), round(load1, 2)], platform=platform.platform(), processor=platform.processor() or None, gpu=torch.cuda.is_available()),
        versions=dict(python=platform.python_version(), torch=torch.__version__, av=av.__version__,
                      pyav_ffmpeg=getattr(av, 'ffmpeg_version_info', None), torchcodec=_torchcodec_version()),
        config=dict(vars(args), clip=dict(n_frames=N_FRAMES, fps=FPS, size=SIZE, audio_secs=AUDIO_SECS, sample_rate=SR),
                    source=dict(secs=SECS, fps=SRC_FPS, width=SRC_W, height=SRC_H, sample_rate=SRC_SR, channels=2, **facts)),
        generate_s=round(gen_s, 2), prepare=dict(wall_s=round(prep_s, 2), workers=prep_workers, files=len(files)),
        agreement=dict(file=pairs[0][0], start=pairs[0][1], reference=ref, diffs=agree, full_size_frame_picking_max_mean_abs_diff=None if picking is None else round(picking, 3)),
        results=rows, ratios={str(k): v for k, v in ratios.items()}, cpu_time_ratios={str(k): v for k, v in cpu_ratios.items()}, targets=TARGETS), indent=1))
    print(f"\nwrote {out}")

def _torchcodec_works(path):
    "True, or why torchcodec cannot decode `path` here (typically: no system FFmpeg libraries for it to load)."
    try:
        from torchcodec.decoders import VideoDecoder
        VideoDecoder(str(path), dimension_order='NHWC', num_ffmpeg_threads=1).get_frames_played_at(seconds=[0.])
        return True
    except Exception as e: return f"{type(e).__name__}: {str(e).strip().splitlines()[-1][:200] if str(e).strip() else ''}"

def _torchcodec_version():
    "torchcodec's version and the (system) FFmpeg it loaded."
    try:
        import torchcodec, torchcodec._core as core
        return f"{torchcodec.__version__} (FFmpeg {core.get_ffmpeg_library_versions().get('ffmpeg_version', '?')})"
    except Exception as e: return f'unavailable: {e}'

if __name__ == '__main__': main()
