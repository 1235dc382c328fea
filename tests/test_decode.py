"`decode_clip` and friends on real files of many rates, containers, codecs and sizes, written by the tests."
import math, random
from fractions import Fraction
import numpy as np
import pytest
import torch
from xdc_fast.synthetic import synth_clip, write_av
from xdc_fast.data.decode import decode_clip, decode_clips, probe_video, clip_starts, DecodeError


def ramp_frames(n, step, size=(32, 32)):
    "`n` flat grey frames; frame `i` has brightness `i*step`, so a decoded frame tells which source frame it is."
    return np.stack([np.full((*size, 3), i * step, np.uint8) for i in range(n)])   # (n,H,W,3)

def frame_ids(v, step):
    "Source frame index of each decoded frame of a `ramp_frames` clip `(T,H,W,3)`."
    return (v.float().mean((1, 2, 3)) / step).round().long().tolist()

def tone(freq, secs, sample_rate, channels, amp=0.5):
    "A sine of `freq` Hz in every channel: `(channels,samples)`."
    t = np.arange(int(round(secs * sample_rate))) / sample_rate
    return np.repeat((amp * np.sin(2 * np.pi * freq * t))[None], channels, 0).astype(np.float32)

def peak_freq(a, sample_rate):
    "Frequency (Hz) of the strongest bin of a mono waveform."
    spec = np.abs(np.fft.rfft(a.numpy() * np.hanning(len(a))))
    return np.argmax(spec) * sample_rate / len(a)


# ---------------------------------------------------------------- shapes and dtypes

@pytest.fixture(scope='module')
def clip_2s(media_dir):
    return synth_clip(media_dir/'shape_2s_48x64.mp4', secs=2, fps=25, size=(48, 64), sample_rate=44100, channels=2)

@pytest.mark.parametrize('size,hw', [(32, (32, 32)), ((20, 30), (20, 30)), (None, (48, 64)), (24, (24, 24))])
def test_decode_clip_shapes_dtypes(clip_2s, size, hw):
    v, a = decode_clip(clip_2s, start=0.5, n_frames=6, fps=12, size=size, audio_secs=0.75, sample_rate=8000)
    assert v.shape == (6, *hw, 3) and v.dtype == torch.uint8
    assert a.shape == (6000,) and a.dtype == torch.float32
    assert v.is_contiguous()

def test_decode_clip_one_modality(clip_2s):
    v, a = decode_clip(clip_2s, start='centre', audio=False, size=16)
    assert a is None and v.shape == (8, 16, 16, 3)
    v, a = decode_clip(clip_2s, start='centre', video=False)
    assert v is None and a.shape == (16000,)

def test_probe_video(clip_2s):
    info = probe_video(clip_2s)
    assert info['duration'] == pytest.approx(2.0, abs=0.05)
    assert (info['fps'], info['width'], info['height']) == (25, 64, 48)
    assert (info['sample_rate'], info['channels']) == (44100, 2)
    assert (info['video_codec'], info['audio_codec']) == ('h264', 'aac')
    assert info['has_video'] and info['has_audio']

def test_random_start_is_reproducible_and_inside(clip_2s):
    v1, a1 = decode_clip(clip_2s, size=16, rng=random.Random(3))
    v2, a2 = decode_clip(clip_2s, size=16, rng=random.Random(3))
    assert torch.equal(v1, v2) and torch.equal(a1, a2)
    starts = clip_starts(2.0, 0.5, 1.0, n=200, rng=random.Random(0))
    assert min(starts) >= 0.25 and max(starts) <= 1.25          # clip and its centred 1 s audio window fit in 2 s


# ---------------------------------------------------------------- clip_starts

def test_clip_starts():
    assert clip_starts(10, 0.5, mode='centre') == [4.75]
    assert clip_starts(10, 0.5, 1.0, mode='uniform', n=3) == [0.25, 4.75, 9.25]
    assert clip_starts(10, 0.5, 1.0, mode='uniform', n=1) == [4.75]
    assert clip_starts(0.3, 0.5, 1.0, mode='centre') == [0.25]   # longer than the file: the earliest start


# ---------------------------------------------------------------- audio-video sync

FPS_2997 = Fraction(30000, 1001)
SYNC_CASES = {   # ext, file fps, sample rate, channels, write_av codecs
    'mp4-h264-aac-25fps-16k-mono':      ('mp4',  25,       16000, 1, {}),
    'mp4-h264-aac-30fps-44k-stereo':    ('mp4',  30,       44100, 2, {}),
    'mp4-h264-aac-29.97fps-48k-5.1':    ('mp4',  FPS_2997, 48000, 6, {}),
    'mkv-h264-opus-25fps-48k-stereo':   ('mkv',  25,       48000, 2, dict(acodec='libopus')),
    'webm-vp9-opus-30fps-48k-mono':     ('webm', 30,       48000, 1, dict(vcodec='libvpx-vp9', acodec='libopus')),
    'avi-mpeg4-mp3-25fps-44k-stereo':   ('avi',  25,       44100, 2, dict(vcodec='mpeg4', acodec='libmp3lame')),
    'mkv-h264-pcm-30fps-16k-mono':      ('mkv',  30,       16000, 1, dict(acodec='pcm_s16le')),
    'mov-h264-pcm-29.97fps-48k-stereo': ('mov',  FPS_2997, 48000, 2, dict(acodec='pcm_s16le')),
}

def onset(x, thresh):
    "Index of the first element of `x` above `thresh` (fails the test when there is none)."
    idx = (x > thresh).nonzero()
    assert len(idx), f"nothing above {thresh}: max {x.max().item():.3f}"
    return idx[0].item()

@pytest.mark.parametrize('case', list(SYNC_CASES))
def test_flash_and_click_line_up(media_dir, case):
    "A one-frame white flash and a 5 ms click at the same instant come out within one video frame of each other."
    ext, fps, sr, ch, codecs = SYNC_CASES[case]
    frame = 1 / float(fps)
    t_sync = float(round(Fraction(6, 5) * fps) / fps)            # ~1.2 s, on the file's frame grid
    f = synth_clip(media_dir/f'sync_{case}.{ext}', secs=2, fps=fps, size=(32, 32), sample_rate=sr, channels=ch,
                   flash=t_sync, click=t_sync, **codecs)
    # the video: one frame per call (clip assembly is the resampling tests' job), a quarter frame after each frame time, 0.9-1.5 s
    k0 = int(0.9 * float(fps))
    times = [(k0 + i + 0.25) * frame for i in range(int(0.6 * float(fps)))]
    bright = torch.stack([decode_clip(f, start=t, n_frames=1, fps=fps, size=16, audio=False)[0].float().mean()
                          for t in times])
    assert (bright > 200).sum() == 1, f"expected one flash frame, brightness {bright.round().tolist()}"
    flash_t = times[onset(bright, 200)]
    # the audio: 1 s windows centred on 0.5 s clips at the file's rate, from several starts
    n = int(round(0.5 * float(fps)))
    for start in (0.8, 0.95, 1.05):
        _, a = decode_clip(f, start=start, n_frames=n, fps=fps, video=False, audio_secs=1.0, sample_rate=16000)
        assert a.shape == (16000,)
        a_start = start + n * frame / 2 - 0.5                    # the audio window is centred on the clip
        click_t = a_start + onset(a.abs(), 0.3) / 16000
        assert abs(flash_t - click_t) <= frame, (start, flash_t, click_t)
        assert abs(click_t - t_sync) <= 2 * frame, (start, click_t)   # and both are where they were written
    assert abs(flash_t - t_sync) <= 2 * frame, flash_t
    # one call: the flash frame and a 0.2 s audio window centred on it hold the click at the window's centre
    v, a = decode_clip(f, start=flash_t, n_frames=1, fps=fps, size=16, audio_secs=0.2, sample_rate=16000)
    assert v.float().mean() > 200
    click_in_window = onset(a.abs(), 0.3) / 16000 - (0.1 - frame / 2)   # 0 when the click is at the frame's centre
    assert abs(click_in_window) <= frame, click_in_window

@pytest.mark.parametrize('ext,acodec', [('mp4', 'aac'), ('mkv', 'pcm_s16le'), ('mov', 'pcm_s16le')])
def test_sync_when_video_starts_late(media_dir, ext, acodec):
    "Video from 0.48 s, audio from 0 s: clip times count from the first frame, and the audio follows them."
    n, t0 = 40, 0.48                                             # t0 on the 1/25 grid write_av uses with times=
    frames = np.full((n, 32, 32, 3), 40, np.uint8); frames[17] = 255          # flash at 0.48 + 17/25 = 1.16 s
    audio = (0.01 * np.random.default_rng(0).standard_normal((1, 40000))).astype(np.float32)
    audio[:, int(1.16 * 16000):int(1.16 * 16000) + 80] = 0.9                 # click at 1.16 s
    f = write_av(media_dir/f'late_video.{ext}', frames, audio, fps=25, times=[t0 + k / 25 for k in range(n)], acodec=acodec)
    times = [(k + 0.25) / 25 for k in range(30)]
    bright = [decode_clip(f, start=t, n_frames=1, fps=25, size=16, audio=False)[0].float().mean().item() for t in times]
    flash_t = times[int(np.argmax(bright))]
    assert flash_t == pytest.approx(17.25 / 25)                  # 0.68 s after the first frame
    _, a = decode_clip(f, start=0.3, n_frames=10, fps=25, video=False, audio_secs=1.0)   # window 0.0-1.0 s clip time
    click_t = onset(a.abs(), 0.3) / 16000
    assert abs(click_t - 0.68) <= 1 / 25, click_t


# ---------------------------------------------------------------- frames picked by timestamp

@pytest.mark.parametrize('fps', [30, FPS_2997], ids=['30fps', '29.97fps'])
def test_fps_resampling_picks_frames_by_timestamp(media_dir, fps):
    "A 30 fps file decoded at 10 fps: the clip's frame at time t is the source frame on screen at t."
    f = write_av(media_dir/f'ramp_{float(fps):.2f}.mp4', ramp_frames(45, 5), None, fps=fps)
    for start in (0.01, 0.35):
        v, _ = decode_clip(f, start=start, n_frames=8, fps=10, size=None, audio=False)
        expected = [math.floor((Fraction(start).limit_denominator(1000) + Fraction(i, 10)) * fps) for i in range(8)]
        assert frame_ids(v, 5) == expected

def test_ramp_file_decodes_frame_exact(media_dir):
    "The ramp test files are exact enough to identify frames (so the resampling test measures the decoder)."
    f = write_av(media_dir/'ramp_30.00_check.mp4', ramp_frames(45, 5), None, fps=30)
    v, _ = decode_clip(f, start=0.0, n_frames=1, fps=30, size=None, audio=False)
    assert frame_ids(v, 5) == [0]
    v, _ = decode_clip(f, start=0.35, n_frames=1, fps=30, size=None, audio=False)
    assert frame_ids(v, 5) == [10]

VFR_TIMES = [0, 0.1, 0.15, 0.5, 0.55, 0.6, 0.9, 1.3, 1.35, 1.5, 1.9]   # multiples of 1/20: write_av's grid at fps=20

@pytest.mark.parametrize('ext', ['mp4', 'mkv'])
def test_variable_frame_rate(media_dir, ext):
    "Frames with irregular timestamps: each clip frame is the last source frame shown at or before its time."
    f = write_av(media_dir/f'vfr.{ext}', ramp_frames(len(VFR_TIMES), 20), None, fps=20, times=VFR_TIMES)
    start = 0.02
    v, _ = decode_clip(f, start=start, n_frames=14, fps=10, size=None, audio=False)
    expected = [max(k for k, t in enumerate(VFR_TIMES) if t <= start + i / 10) for i in range(14)]
    assert frame_ids(v, 20) == expected

@pytest.mark.parametrize('ext', ['mp4', 'mkv'])
def test_variable_frame_rate_single_frames(media_dir, ext):
    "One frame at a time (no cache reuse): the frame on screen at each instant of a variable-rate file."
    f = write_av(media_dir/f'vfr1.{ext}', ramp_frames(len(VFR_TIMES), 20), None, fps=20, times=VFR_TIMES)
    for t in (0.02, 0.12, 0.32, 0.52, 0.62, 1.0, 1.32, 1.45):
        v, _ = decode_clip(f, start=t, n_frames=1, fps=10, size=None, audio=False, pad='last')
        assert frame_ids(v, 20) == [max(k for k, s in enumerate(VFR_TIMES) if s <= t)], t


# ---------------------------------------------------------------- containers, codecs, frame sizes

CODEC_CASES = {   # ext, write_av kwargs, expected (video_codec, audio_codec) from probe_video
    'mp4-h264-aac':    ('mp4',  {},                                              ('h264', 'aac')),
    'mkv-h264-opus':   ('mkv',  dict(acodec='libopus', sample_rate=48000),      ('h264', 'opus')),
    'webm-vp9-opus':   ('webm', dict(vcodec='libvpx-vp9', acodec='libopus', sample_rate=48000), ('vp9', 'opus')),
    'avi-mpeg4-mp3':   ('avi',  dict(vcodec='mpeg4', acodec='libmp3lame', sample_rate=44100), ('mpeg4', 'mp3')),
    'mkv-h264-pcm':    ('mkv',  dict(acodec='pcm_s16le'),                        ('h264', 'pcm_s16le')),
    'mov-h264-pcm':    ('mov',  dict(acodec='pcm_s16le'),                        ('h264', 'pcm_s16le')),
}

@pytest.mark.parametrize('case', list(CODEC_CASES))
def test_containers_and_codecs(media_dir, case):
    ext, kw, (vc, ac) = CODEC_CASES[case]
    f = synth_clip(media_dir/f'codec_{case}.{ext}', secs=1.5, fps=16, size=(64, 64), **kw)
    info = probe_video(f)
    assert info['video_codec'] == vc and info['audio_codec'].startswith(ac)      # mp3 decodes as 'mp3float'
    assert info['duration'] == pytest.approx(1.5, abs=0.1)
    v, a = decode_clip(f, start='centre', n_frames=8, fps=16, size=32, audio_secs=1.0)
    assert v.shape == (8, 32, 32, 3) and a.shape == (16000,)
    corner = v[:, :4, -4:].float().mean().item()                 # background is grey 40 away from the moving bar
    assert abs(corner - 40) < 12, corner
    assert 0.003 < a.std().item() < 0.05                         # the file's 0.01-std noise, not silence or garbage

ODD_CASES = {   # whatever encodes a 67x45 frame: libx264 needs yuv444p for odd sizes
    'mp4-h264-yuv444p': ('mp4',  dict(vcodec='libx264', pix_fmt='yuv444p')),
    'avi-mpeg4':        ('avi',  dict(vcodec='mpeg4', acodec='libmp3lame', sample_rate=44100)),
    'webm-vp9':         ('webm', dict(vcodec='libvpx-vp9', acodec='libopus', sample_rate=48000)),
}

@pytest.mark.parametrize('case', list(ODD_CASES))
def test_odd_frame_size(media_dir, case):
    ext, kw = ODD_CASES[case]
    f = synth_clip(media_dir/f'odd_{case}.{ext}', secs=1, fps=16, size=(45, 67), **kw)
    assert (probe_video(f)['width'], probe_video(f)['height']) == (67, 45)
    for size, hw in [(None, (45, 67)), (32, (32, 32)), ((21, 31), (21, 31))]:
        v, a = decode_clip(f, start=0, n_frames=4, size=size)
        assert v.shape == (4, *hw, 3) and a.shape == (16000,)
        assert abs(v[0, :3, -3:].float().mean().item() - 40) < 12   # the corner holds the grey background


# ---------------------------------------------------------------- audio: channels and rates to mono 16 kHz

@pytest.mark.parametrize('ext,acodec,sr,ch', [('mkv', 'pcm_s16le', 48000, 2), ('mkv', 'pcm_s16le', 48000, 6),
                                              ('mp4', 'aac', 48000, 2), ('mp4', 'aac', 48000, 6),
                                              ('mp4', 'aac', 44100, 2)])
def test_audio_to_mono_16k(media_dir, ext, acodec, sr, ch):
    "A 1 kHz tone at 48/44.1 kHz in 2 or 6 channels comes out as 16 kHz mono of the asked length, still 1 kHz."
    f = write_av(media_dir/f'tone_{sr}_{ch}.{ext}', ramp_frames(32, 4), tone(1000, 2.0, sr, ch), fps=16,
                 sample_rate=sr, acodec=acodec)
    assert (probe_video(f)['sample_rate'], probe_video(f)['channels']) == (sr, ch)
    for secs, out_sr in [(1.0, 16000), (0.5, 16000), (1.0, 8000)]:
        _, a = decode_clip(f, start=0.5, n_frames=8, size=16, audio_secs=secs, sample_rate=out_sr)
        assert a.shape == (int(secs * out_sr),) and a.dtype == torch.float32
        assert peak_freq(a, out_sr) == pytest.approx(1000, abs=4 / secs)
        assert a.abs().max() > 0.1                               # the tone survives the downmix


# ---------------------------------------------------------------- files shorter than the clip

@pytest.fixture(scope='module')
def short_file(media_dir):
    "0.25 s at 16 fps: 4 ramp frames and a 0.25 s tone."
    return write_av(media_dir/'short_025.mov', ramp_frames(4, 40), tone(500, 0.25, 16000, 1), fps=16,
                    sample_rate=16000, acodec='pcm_s16le')

def test_pad_loop_frames(short_file):
    v, _ = decode_clip(short_file, n_frames=8, fps=16, size=None, audio=False, pad='loop')
    assert frame_ids(v, 40) == [0, 1, 2, 3, 0, 1, 2, 3]

def test_pad_loop_audio(short_file):
    v, a = decode_clip(short_file, n_frames=8, fps=16, size=None, audio_secs=1.0, pad='loop')
    assert v.shape == (8, 32, 32, 3) and a.shape == (16000,)
    rms = a.reshape(8, 2000).pow(2).mean(1).sqrt()               # (16000,) -> (8,) per 0.125 s
    assert (rms > 0.3).all(), rms                                # the 0.25 s tone repeats over the whole window
    silent = (a == 0).int()
    runs = [len(r) for r in ''.join(map(str, silent.tolist())).split('0') if r]
    assert max(runs, default=0) <= 32, max(runs)                 # at most 2 ms of silence at each wrap (the mkv's ms rounding)

def test_pad_last_frames(short_file):
    v, _ = decode_clip(short_file, n_frames=8, fps=16, size=None, audio=False, pad='last')
    assert frame_ids(v, 40) == [0, 1, 2, 3, 3, 3, 3, 3]

def test_pad_last_audio(short_file):
    v, a = decode_clip(short_file, n_frames=8, fps=16, size=None, audio_secs=1.0, pad='last')
    assert v.shape == (8, 32, 32, 3) and torch.equal(v[4], v[7])   # the last frame stays on screen
    assert a.shape == (16000,)
    assert a[:4000].abs().max() == 0                             # window centred on the clip: silence before 0 s
    assert a[4000:8000].abs().max() > 0.4                        # the file's 0.25 s of tone
    assert a[8100:].abs().max() == 0                             # silence after the end

def test_pad_error(short_file):
    with pytest.raises(DecodeError, match=r"short_025\.mov: clip needs 1\.00s but the file has 0\.25s"):
        decode_clip(short_file, n_frames=8, fps=16, pad='error')
    v, a = decode_clip(short_file, n_frames=4, fps=16, audio=False, pad='error')   # a 0.25 s clip fits
    assert v.shape[0] == 4


# ---------------------------------------------------------------- decode_clips

@pytest.fixture(scope='module')
def ramp_3s(media_dir):
    "3 s at 16 fps, 48 ramp frames, with noise audio."
    return write_av(media_dir/'ramp_3s.mp4', ramp_frames(48, 5), 0.1 * np.random.default_rng(0).standard_normal((1, 48000)),
                    fps=16, sample_rate=16000)

def test_decode_clips_shapes(ramp_3s):
    v, a = decode_clips(ramp_3s, n_clips=3, n_frames=4, fps=16, size=16)
    assert v.shape == (3, 4, 16, 16, 3) and v.dtype == torch.uint8
    assert a.shape == (3, 16000) and a.dtype == torch.float32
    v, a = decode_clips(ramp_3s, n_clips=2, n_frames=4, size=16, audio=False)
    assert v.shape == (2, 4, 16, 16, 3) and a is None

def test_decode_clips_uniform_starts(ramp_3s):
    "3 one-frame clips with 1 s audio windows in 3 s: starts 0.469, 1.469, 2.469 s, so frames 7, 23, 39."
    v, _ = decode_clips(ramp_3s, n_clips=3, n_frames=1, fps=16, size=None, audio_secs=1.0)
    assert [frame_ids(c, 5) for c in v] == [[7], [23], [39]]

def test_decode_clips_uniform_frames(ramp_3s):
    v, _ = decode_clips(ramp_3s, n_clips=3, n_frames=4, fps=16, size=None, audio_secs=1.0)
    assert [frame_ids(c, 5) for c in v] == [[6, 7, 8, 9], [22, 23, 24, 25], [38, 39, 40, 41]]
