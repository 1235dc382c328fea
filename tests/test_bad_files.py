"Every class of bad input, made as a real file: clear errors from `decode_clip`, exact lists from `verify_videos`, DataLoaders that survive them."
import os, shutil, warnings
from pathlib import Path
import pytest
import torch
from xdc_fast.synthetic import synth_clip
from xdc_fast.data.decode import decode_clip, check_video, verify_videos, run_isolated, clip_starts, DecodeError, MissingAudioError
from xdc_fast.data.block import AVDataLoaders


@pytest.fixture(scope='module')
def bad_dir(tmp_path_factory):
    "One good file and one file of each bad class; 'nothere.mp4' is named but never written."
    d = tmp_path_factory.mktemp('bad')
    good = synth_clip(d/'good.mp4', secs=1)
    data = good.read_bytes()
    (d/'empty.mp4').write_bytes(b'')
    (d/'cut.mp4').write_bytes(data[:len(data) // 2])             # mp4 index is at the end: lost
    (d/'notes.mp4').write_text('meeting notes, not a video\n' * 20)
    synth_clip(d/'mute.mp4', secs=1, sample_rate=None)           # video only
    synth_clip(d/'voice.mp4', secs=1, video=False)               # audio only
    return d

UNREADABLE = ['empty.mp4', 'cut.mp4', 'notes.mp4']


def test_good_file_decodes(bad_dir):
    v, a = decode_clip(bad_dir/'good.mp4', size=16)
    assert v.shape == (8, 16, 16, 3) and a.shape == (16000,)
    assert check_video(bad_dir/'good.mp4') == ''

@pytest.mark.parametrize('name', UNREADABLE)
def test_unreadable_file_raises_decode_error(bad_dir, name):
    with pytest.raises(DecodeError, match=rf"{name}: cannot be opened as a video.*run verify_videos"):
        decode_clip(bad_dir/name)

def test_nonexistent_path(bad_dir):
    with pytest.raises(DecodeError, match=r"nothere\.mp4: no such file"):
        decode_clip(bad_dir/'nothere.mp4')
    assert check_video(bad_dir/'nothere.mp4') == 'no such file'

def test_audio_less_file(bad_dir):
    f = bad_dir/'mute.mp4'
    with pytest.raises(MissingAudioError, match=r"mute\.mp4: has no audio stream; pass missing_audio='silence'"):
        decode_clip(f)
    v, a = decode_clip(f, size=16, audio_secs=0.5, sample_rate=16000, missing_audio='silence')
    assert v.shape == (8, 16, 16, 3)
    assert a.shape == (8000,) and a.dtype == torch.float32 and (a == 0).all()
    v, a = decode_clip(f, size=16, audio=False)                  # not asking for audio is no error
    assert a is None and v.shape[0] == 8
    assert check_video(f) == 'no audio stream' and check_video(f, need_audio=False) == ''

def test_video_less_file(bad_dir):
    f = bad_dir/'voice.mp4'
    with pytest.raises(DecodeError, match=r"voice\.mp4: has no video stream") as e:
        decode_clip(f)
    assert not isinstance(e.value, MissingAudioError)
    v, a = decode_clip(f, video=False, audio_secs=0.5)           # its audio is still readable
    assert v is None and a.shape == (8000,) and a.abs().max() > 0
    assert check_video(f) == 'no video stream'


# ---------------------------------------------------------------- verify_videos and run_isolated

def test_verify_videos_lists_exactly_the_bad_ones(bad_dir):
    names = ['good.mp4', *UNREADABLE, 'mute.mp4', 'voice.mp4', 'nothere.mp4']
    bad = verify_videos([bad_dir/n for n in names], n_workers=2, progress=False)
    reasons = {f.name: r for f, r in bad}
    assert list(reasons) == names[1:]                            # input order, the good file left out
    assert all(isinstance(f, Path) for f, _ in bad)
    for n in UNREADABLE: assert reasons[n].startswith('cannot be opened as a video'), reasons[n]
    assert reasons['mute.mp4'] == 'no audio stream'
    assert reasons['voice.mp4'] == 'no video stream'
    assert reasons['nothere.mp4'] == 'no such file'
    bad = verify_videos([bad_dir/n for n in names], need_audio=False, n_workers=2, progress=False)
    assert [f.name for f, _ in bad] == names[1:4] + names[5:]    # without audio, mute.mp4 is fine

def test_verify_videos_empty_list():
    assert len(verify_videos([], progress=False)) == 0

def test_verify_videos_survives_a_hanging_file(bad_dir, tmp_path):
    "A named pipe blocks whoever opens it: its worker is killed after `timeout` and the others still get checked."
    fifo = tmp_path/'stream.mp4'
    os.mkfifo(fifo)
    bad = verify_videos([bad_dir/'good.mp4', fifo, bad_dir/'empty.mp4'], n_workers=2, timeout=1, progress=False)
    reasons = {f.name: r for f, r in bad}
    assert list(reasons) == ['stream.mp4', 'empty.mp4']
    assert reasons['stream.mp4'] == 'worker timed out after 1s on this file'

@pytest.mark.parametrize('ext,kw', [('mkv', {}), ('webm', dict(vcodec='libvpx-vp9', acodec='libopus', sample_rate=48000))])
def test_verify_videos_flags_truncated_file_with_intact_header(tmp_path, ext, kw):
    good = synth_clip(tmp_path/f'good.{ext}', secs=2, **kw)
    data = good.read_bytes()
    (tmp_path/f'cut.{ext}').write_bytes(data[:len(data) // 2])   # header (duration 2 s) kept, second second gone
    bad = verify_videos([good, tmp_path/f'cut.{ext}'], n_workers=2, progress=False)
    assert [f.name for f, _ in bad] == [f'cut.{ext}']


def square_or_crash(i):
    "Work for `run_isolated`: dies without cleanup on item 3, else its square and the worker's pid."
    if i == 3: os._exit(11)
    return i * i, os.getpid()

def test_run_isolated_survives_a_crashing_worker():
    res = run_isolated(square_or_crash, range(7), n_workers=2, progress=False)
    assert len(res) == 7
    assert isinstance(res[3], RuntimeError) and 'worker crashed on this file' in str(res[3])
    ok = [r for i, r in enumerate(res) if i != 3]
    assert [sq for sq, _ in ok] == [0, 1, 4, 16, 25, 36]          # in order, every other item done
    assert all(pid != os.getpid() for _, pid in ok)               # in worker processes, not the caller
    assert run_isolated(square_or_crash, [5], n_workers=1, progress=False)[0][0] == 25   # the caller lives on

def raise_on_two(i):
    if i == 2: raise KeyError('boom')
    return i

def test_run_isolated_returns_exceptions():
    res = run_isolated(raise_on_two, range(4), n_workers=2, progress=False)
    assert res[:2] + res[3:] == [0, 1, 3]
    assert isinstance(res[2], RuntimeError) and 'KeyError' in str(res[2]) and 'boom' in str(res[2])


# ---------------------------------------------------------------- AVDataLoaders and bad files

def make_good(folder, n):
    "`n` good 1 s clips (different noise) in `folder`."
    return [synth_clip(Path(folder)/f'clip_{i}.mp4', secs=1, seed=i) for i in range(n)]

def iterate(dl):
    "Every batch of `dl`: the number of items seen."
    n = 0
    for xv, xa, ids in dl:
        assert xv.shape[1:] == (3, 4, 32, 32) and xa.shape[1:] == (1, 40, 101)
        n += len(ids)
    return n

DL_KW = dict(bs=2, n_frames=4, size=32, crop=32, progress=False, device='cpu', seed=0)

def test_from_folder_empty_folder(tmp_path):
    (tmp_path/'readme.txt').write_text('videos go here')
    with pytest.raises(FileNotFoundError, match=r"no video files with extensions \.mp4.*\(searched recursively\)"):
        AVDataLoaders.from_folder(tmp_path, num_workers=0, progress=False)

def test_from_folder_not_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing: not a folder"):
        AVDataLoaders.from_folder(tmp_path/'missing', num_workers=0, progress=False)

def test_from_folder_only_bad_files(tmp_path):
    (tmp_path/'a.mp4').write_bytes(b'')
    (tmp_path/'b.mkv').write_text('nope')
    with pytest.raises(FileNotFoundError, match=r"none of the 2 video files can be used"):
        AVDataLoaders.from_folder(tmp_path, num_workers=0, progress=False)

@pytest.fixture(scope='module')
def mixed_dir(bad_dir, tmp_path_factory):
    "6 good clips plus every bad class (copied from `bad_dir`)."
    d = tmp_path_factory.mktemp('mixed')
    make_good(d, 6)
    for n in [*UNREADABLE, 'mute.mp4', 'voice.mp4']: shutil.copy(bad_dir/n, d/n)
    return d

def test_from_folder_leaves_bad_files_out(mixed_dir, capsys):
    with pytest.warns(UserWarning, match=r"1 files have no audio stream and were skipped"):
        dls = AVDataLoaders.from_folder(mixed_dir, num_workers=0, valid_pct=0.34, **DL_KW)
    assert 'verify_videos: 5 of 11 files left out' in capsys.readouterr().out
    assert sorted(f.name for f, _ in dls.bad_files) == sorted([*UNREADABLE, 'mute.mp4', 'voice.mp4'])
    assert dict((f.name, r) for f, r in dls.bad_files)['mute.mp4'] == 'no audio stream'
    assert sorted(f.name for f in dls.files) == [f'clip_{i}.mp4' for i in range(6)]
    assert dls.labels is None                                    # files are not in class folders
    assert iterate(dls.train) == 4 and iterate(dls.valid) == 2
    assert dls.n_failed == 0

def test_from_folder_keeps_mute_files_with_silence(mixed_dir):
    dls = AVDataLoaders.from_folder(mixed_dir, num_workers=0, valid_pct=0.34, missing_audio='silence', **DL_KW)
    assert sorted(f.name for f, _ in dls.bad_files) == sorted([*UNREADABLE, 'voice.mp4'])
    assert 'mute.mp4' in [f.name for f in dls.files]
    assert iterate(dls.train) + iterate(dls.valid) == 6           # 7 files: train drops its last odd item
    assert dls.n_failed == 0

def test_file_corrupted_after_building_is_replaced(tmp_path):
    "A file that breaks after verification is replaced by another item and counted, across worker processes."
    files = make_good(tmp_path, 6)
    dls = AVDataLoaders.from_folder(tmp_path, num_workers=2, valid_pct=0.34, **DL_KW)
    assert len(dls.bad_files) == 0 and dls.n_failed == 0
    for f in files[:2]: f.write_bytes(f.read_bytes()[:100])     # one in each split (or both in one): both are read
    assert iterate(dls.train) == 4 and iterate(dls.valid) == 2   # full batches all the same
    assert dls.n_failed >= 2
    assert dls.n_failed == dls.valid.n_failed                    # one counter for all loaders and workers

def test_folder_gone_after_building_is_fatal(tmp_path):
    "When nothing decodes any more, iteration stops with an error that says what to check."
    d = tmp_path/'ds'
    make_good(d, 4)
    dls = AVDataLoaders.from_folder(d, num_workers=0, valid_pct=0.5, **DL_KW)
    shutil.rmtree(d)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(DecodeError, match=r"20 items in a row failed to decode; is the data folder still there\?"):
            next(iter(dls.train))


# ---------------------------------------------------------------- wrong arguments

@pytest.mark.parametrize('kw,value', [(dict(missing_audio='drop'), 'drop'), (dict(pad='x'), 'x'),
                                      (dict(start='middle'), 'middle')])
def test_decode_clip_wrong_arguments(bad_dir, kw, value):
    with pytest.raises(ValueError, match=f"'{value}'"):
        decode_clip(bad_dir/'good.mp4', **kw)

def test_clip_starts_wrong_mode():
    with pytest.raises(ValueError, match=r"mode must be 'random', 'centre' or 'uniform', got 'middle'"):
        clip_starts(10, 0.5, mode='middle')

@pytest.mark.parametrize('kw,value', [(dict(missing_audio='drop'), 'drop'), (dict(pad='x'), 'x')])
def test_from_folder_wrong_arguments(tmp_path, kw, value):
    make_good(tmp_path, 2)
    with pytest.raises(ValueError, match=f"'{value}'"):
        AVDataLoaders.from_folder(tmp_path, num_workers=0, valid_pct=0.5, **DL_KW, **kw)
