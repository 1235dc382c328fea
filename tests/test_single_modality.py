"Single-modality data: audio files (wav, flac, mp3, FSDD's real recordings) as audio data, videos without sound as video data."
import shutil
from pathlib import Path
import numpy as np
import pytest
import torch
from scipy.io import wavfile
from scipy.signal import resample_poly
from xdc_fast.synthetic import write_av, synth_clip
from xdc_fast.data.decode import decode_clip, check_video, verify_videos
from xdc_fast.data.block import get_video_files, media_exts, AUDIO_EXTS
from xdc_fast.transfer import classification_dls, extract_features, linear_probe, knn_accuracy
from xdc_fast.models import get_encoder

FSDD = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'fsdd'/'recordings'


@pytest.fixture(scope='module')
def tones(tmp_path_factory):
    "Two classes of tones as wav, flac and mp3 files in {train,valid}/{class}/, and one broken wav."
    root = tmp_path_factory.mktemp('tones')
    for split, n in (('train', 6), ('valid', 3)):
        for k, f0 in enumerate((300, 1200)):
            for i in range(n):
                ext, codec = [('wav', 'pcm_s16le'), ('flac', 'flac'), ('mp3', 'libmp3lame')][i % 3]
                t = np.arange(int(22050 * 0.6)) / 22050                         # 22.05 kHz: resampled on decoding
                write_av(root/split/f'tone{k}'/f'{i}.{ext}', None, (0.5 * np.sin(2 * np.pi * f0 * t))[None].astype(np.float32),
                         sample_rate=22050, acodec=codec)
    (root/'train'/'tone1'/'broken.wav').write_bytes(b'RIFF and nothing else')
    return root


def test_media_exts():
    assert set(AUDIO_EXTS) <= set(media_exts('audio')) and not set(AUDIO_EXTS) & set(media_exts('video'))
    with pytest.raises(ValueError, match="modality must be"): media_exts('text')


def test_check_sound_alone(tones):
    ok = next((tones/'train'/'tone0').glob('*.wav'))
    assert check_video(ok) == 'no video stream'                          # not audio-video data
    assert check_video(ok, need_video=False) == ''
    assert check_video(tones/'train'/'tone1'/'broken.wav', need_video=False).startswith('cannot be opened')
    bad = verify_videos(get_video_files(tones, AUDIO_EXTS), need_video=False, n_workers=1, progress=False)
    assert [f.name for f, _ in bad] == ['broken.wav']


def test_audio_files_classification(tones):
    dls = classification_dls(tones, 'audio', bs=4, num_workers=0, progress=False)
    assert len(dls.files) == 18 and [f.name for f, _ in dls.bad_files] == ['broken.wav']
    assert dls.vocab == ['tone0', 'tone1'] and len(dls.valid.items) == 6
    x, y = dls.one_batch()
    assert x.shape == (4, 1, 40, 101)
    f = extract_features(get_encoder('resnet_tiny_audio'), dls, 'audio', progress=False)
    assert f.feats.shape == (18, 128) and not f.failed and f.labels is not None
    tr, va = [i for i, p in enumerate(f.items) if 'train' in p.parts], [i for i, p in enumerate(f.items) if 'valid' in p.parts]
    # two tones an octave and more apart: separable even by a random encoder's features
    assert linear_probe(f.feats[tr], f.labels[tr], f.feats[va], f.labels[va], Cs=(1.,)).accuracy == 1.
    assert knn_accuracy(f.feats[tr], f.labels[tr], f.feats[va], f.labels[va], k=3) == 1.


def test_video_folder_rejects_sound_files(tones):
    with pytest.raises(FileNotFoundError, match="no video files"): classification_dls(tones, 'video', num_workers=0, progress=False)


def test_mute_videos_are_video_data(tmp_path):
    for k in range(2):
        for i in range(3): synth_clip(tmp_path/('valid' if i == 0 else 'train')/f'c{k}'/f'{i}.mp4', sample_rate=None, seed=10 * k + i)
    dls = classification_dls(tmp_path, 'video', bs=2, n_frames=4, size=32, crop=32, num_workers=0, progress=False)
    assert len(dls.files) == 6 and not dls.bad_files and dls.one_batch()[0].shape == (2, 3, 4, 32, 32)
    with pytest.raises(FileNotFoundError, match="none of the 6 video or audio files can be used"):
        classification_dls(tmp_path, 'audio', num_workers=0, progress=False)


def test_fsdd_recordings(tmp_path):
    "FSDD's real 8 kHz recordings: decoded at the pretraining rate, the same sound as the file, features for every file."
    if not FSDD.is_dir(): pytest.skip("../shared/data/fsdd not found: it lives beside the project in CI; skipping")
    files = sorted(FSDD.glob('[01]_george_[0-4].wav'))
    for f in files: shutil.copy(f, tmp_path/f.name)
    sr, wav = wavfile.read(files[0])
    _, a = decode_clip(tmp_path/files[0].name, start=0., n_frames=4, fps=16, video=False, audio_secs=0.25)   # the window is the clip: 0-0.25 s
    ref = resample_poly(wav.astype(np.float32) / 32768, 16000, sr)[:4000]
    assert a.shape == (4000,) and np.corrcoef(a.numpy(), ref)[0, 1] > 0.99
    f = extract_features(get_encoder('resnet_tiny_audio'), get_video_files(tmp_path, media_exts('audio')), 'audio', progress=False)
    assert f.feats.shape[0] == len(files) == 10 and torch.isfinite(f.feats).all()
