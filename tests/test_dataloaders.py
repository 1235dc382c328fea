"`AVDataLoaders.from_folder` end to end: batches, clip ids, labels, the verify cache, and the real AV-digits benchmark."
import csv, json, os
from pathlib import Path
import pytest
import torch
from xdc_fast.synthetic import synth_clip, SYNTH_CLASSES
from xdc_fast.core import TensorVideo, TensorMelSpec, TensorClipId
from xdc_fast.data.block import AVDataLoaders, get_video_files, verify_videos_cached


def read_labels(root):
    "`{relative path: (label, split)}` from a dataset's labels.csv."
    with open(Path(root)/'labels.csv', newline='') as fh:
        rows = list(csv.DictReader(fh))
    label_col = 'label' if 'label' in rows[0] else 'digit'
    return {r['file']: (r[label_col], r['split']) for r in rows}

def epoch(dl):
    "All batches of one pass over `dl`."
    return [tuple(b) for b in dl]


# ---------------------------------------------------------------- synthetic dataset, 2 workers

@pytest.fixture(scope='module')
def dls(synth_ds):
    return AVDataLoaders.from_folder(synth_ds, bs=8, num_workers=2, n_frames=8, fps=16, size=64, crop=48,
                                     progress=False, device='cpu')

@pytest.fixture(scope='module')
def train_epoch(dls): return epoch(dls.train)

@pytest.fixture(scope='module')
def valid_epoch(dls): return epoch(dls.valid)

def test_files_and_split(dls, synth_ds):
    assert len(dls.files) == 32 and len(dls.bad_files) == 0
    assert len(dls.train.dataset) == 24 and len(dls.valid.dataset) == 8    # the train/ and valid/ folders
    assert dls.clip_cfg['n_frames'] == 8 and dls.clip_cfg['crop'] == 48

def test_batch_shapes_and_types(train_epoch, valid_epoch):
    for xv, xa, ids in train_epoch + valid_epoch:
        assert isinstance(xv, TensorVideo) and xv.shape == (8, 3, 8, 48, 48) and xv.dtype == torch.float32
        assert isinstance(xa, TensorMelSpec) and xa.shape == (8, 1, 40, 101) and xa.dtype == torch.float32
        assert isinstance(ids, TensorClipId) and ids.shape == (8,) and ids.dtype == torch.int64
        assert torch.isfinite(xv).all() and torch.isfinite(xa).all()
    xv = torch.cat([b[0] for b in valid_epoch])
    assert abs(xv.mean().item()) < 2 and 0.2 < xv.std().item() < 5   # normalised, not raw 0-255

def test_ids_cover_each_split_once(dls, train_epoch, valid_epoch, synth_ds):
    train_ids = torch.cat([b[2] for b in train_epoch]).tolist()
    valid_ids = torch.cat([b[2] for b in valid_epoch]).tolist()
    assert len(train_ids) == len(set(train_ids)) == 24             # unique within the epoch
    assert len(valid_ids) == len(set(valid_ids)) == 8
    labels = read_labels(synth_ds)
    split = lambda i: labels[dls.files[i].relative_to(synth_ds).as_posix()][1]
    assert {split(i) for i in train_ids} == {'train'} and {split(i) for i in valid_ids} == {'valid'}
    assert set(train_ids) | set(valid_ids) == set(range(32))

def test_labels_from_folder_names(dls, synth_ds):
    assert dls.label_vocab == sorted(SYNTH_CLASSES[:4])
    assert dls.labels.shape == (32,)
    labels = read_labels(synth_ds)
    for i, f in enumerate(dls.files):
        assert dls.label_vocab[dls.labels[i]] == f.parent.name == labels[f.relative_to(synth_ds).as_posix()][0]
    assert dls.train.label_vocab == dls.label_vocab and dls.valid.files == dls.files

def test_valid_batches_are_deterministic(dls, valid_epoch):
    "No augmentation and the centre clip on the validation set: a second pass gives the same batch."
    again = epoch(dls.valid)
    for b1, b2 in zip(valid_epoch, again):
        assert torch.equal(b1[2], b2[2])
        assert torch.allclose(b1[0], b2[0]) and torch.allclose(b1[1], b2[1])

def test_train_clips_are_augmented(dls, train_epoch):
    "Random clip, crop, flip and gain on the training set: a second pass differs for the same items."
    again = {int(i): v for b in epoch(dls.train) for i, v in zip(b[2], b[0])}
    first = {int(i): v for b in train_epoch for i, v in zip(b[2], b[0])}
    assert sum(not torch.allclose(first[i], again[i]) for i in first) >= 20
    assert dls.n_failed == 0


def test_get_video_files_finds_videos_only(tmp_path):
    for name in ['a/x.mp4', 'a/y.MKV', 'b/c/z.webm', 'b/notes.txt', 'b/.hidden.mp4', '.cache/w.mp4', 'v.avi']:
        (tmp_path/name).parent.mkdir(parents=True, exist_ok=True); (tmp_path/name).write_bytes(b'')
    assert sorted(f.relative_to(tmp_path).as_posix() for f in get_video_files(tmp_path)) == \
           ['a/x.mp4', 'a/y.MKV', 'b/c/z.webm', 'v.avi']
    assert [f.name for f in get_video_files(tmp_path, recurse=False)] == ['v.avi']
    assert sorted(f.name for f in get_video_files(tmp_path, extensions=('.mp4',))) == ['x.mp4']

def test_get_video_files_is_sorted(tmp_path):
    names = [f'{d}/clip_{i:02d}.mp4' for d in 'abc' for i in range(8)]
    for k in torch.randperm(len(names), generator=torch.Generator().manual_seed(0)).tolist():   # created in shuffled order
        (tmp_path/names[k]).parent.mkdir(exist_ok=True); (tmp_path/names[k]).write_bytes(b'')
    files = get_video_files(tmp_path)
    assert [f.relative_to(tmp_path).as_posix() for f in files] == names


# ---------------------------------------------------------------- the verify cache

def cache_files(): return sorted(Path(os.environ['XDC_FAST_CACHE']).glob('verify-*.json'))

def test_verify_cache_rechecks_only_changed_files(tmp_path):
    root = tmp_path/'videos'
    files = [synth_clip(root/f'c{i}.mp4', secs=1, seed=i) for i in range(4)]
    before = set(cache_files())
    assert len(verify_videos_cached(files, root, n_workers=2, progress=False)) == 0
    new = set(cache_files()) - before
    assert len(new) == 1                                          # one cache file for this folder
    cf = new.pop()
    cache = json.loads(cf.read_text())
    assert sorted(cache) == sorted(map(str, files))
    assert all(len(v) == 3 and v[2] == '' for v in cache.values())   # [size, mtime_ns, reason]
    # plant a reason for an unchanged file: if it comes back, the file was not checked again
    cache[str(files[0])][2] = 'planted reason'
    cf.write_text(json.dumps(cache))
    bad = verify_videos_cached(files, root, n_workers=2, progress=False)
    assert [(f.name, r) for f, r in bad] == [('c0.mp4', 'planted reason')]
    # break another file: only it is checked again (the planted reason stays)
    files[2].write_bytes(b'')
    bad = dict((f.name, r) for f, r in verify_videos_cached(files, root, n_workers=2, progress=False))
    assert bad['c0.mp4'] == 'planted reason'
    assert bad['c2.mp4'].startswith('cannot be opened') and len(bad) == 2
    # a changed mtime alone makes c0.mp4 checked again: it is fine
    st = os.stat(files[0]); os.utime(files[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    bad = verify_videos_cached(files, root, n_workers=2, progress=False)
    assert [f.name for f, _ in bad] == ['c2.mp4']
    assert len(verify_videos_cached(files, root, need_audio=False, progress=False)) == 1   # its own cache file
    assert len(set(cache_files()) - before) == 2

def test_from_folder_uses_the_cache(tmp_path):
    "A second `from_folder` on the same folder trusts the cache: a planted reason leaves that file out."
    root = tmp_path/'videos'
    for i in range(4): synth_clip(root/f'c{i}.mp4', secs=1, seed=i)
    before = set(cache_files())
    kw = dict(bs=2, n_frames=4, size=32, crop=32, valid_pct=0.5, num_workers=0, progress=False, device='cpu')
    assert len(AVDataLoaders.from_folder(root, **kw).files) == 4
    (cf,) = set(cache_files()) - before
    cache = json.loads(cf.read_text())
    cache[str(root/'c1.mp4')][2] = 'planted reason'
    cf.write_text(json.dumps(cache))
    dls = AVDataLoaders.from_folder(root, **kw)
    assert [(f.name, r) for f, r in dls.bad_files] == [('c1.mp4', 'planted reason')]
    assert sorted(f.name for f in dls.files) == ['c0.mp4', 'c2.mp4', 'c3.mp4']
    assert len(AVDataLoaders.from_folder(root, verify=False, **kw).files) == 4   # verify=False trusts every file


# ---------------------------------------------------------------- the real AV-digits benchmark

@pytest.fixture(scope='module')
def digit_dls(avdigits):
    # verify=False: checking 2000 files costs ~15 s on 2 cores; the benchmark is known clean (see labels.csv)
    return AVDataLoaders.from_folder(avdigits, size=64, crop=64, n_frames=16, bs=32, num_workers=2, verify=False,
                                     progress=False, device='cpu')

def test_avdigits_files_and_labels(digit_dls, avdigits):
    assert len(get_video_files(avdigits)) == 2000
    assert len(digit_dls.files) == 2000
    assert digit_dls.label_vocab == [str(d) for d in range(10)]
    labels = read_labels(avdigits)
    assert len(labels) == 2000
    n_train = sum(s == 'train' for _, s in labels.values())
    assert (len(digit_dls.train.dataset), len(digit_dls.valid.dataset)) == (n_train, 2000 - n_train)

@pytest.mark.parametrize('split', ['train', 'valid'])
def test_avdigits_one_batch(digit_dls, avdigits, split):
    xv, xa, ids = next(iter(getattr(digit_dls, split)))
    assert xv.shape == (32, 3, 16, 64, 64) and xv.dtype == torch.float32
    assert xa.shape == (32, 1, 40, 101) and xa.dtype == torch.float32
    assert ids.shape == (32,) and ids.dtype == torch.int64 and len(set(ids.tolist())) == 32
    labels = read_labels(avdigits)
    for i in ids.tolist():
        f = digit_dls.files[i]
        digit, s = labels[f.relative_to(avdigits).as_posix()]
        assert s == split and digit_dls.label_vocab[digit_dls.labels[i]] == digit == f.parent.name
