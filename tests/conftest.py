"Shared fixtures: a session folder of generated media files, a small synthetic dataset, the real AV-digits benchmark."
import os
from pathlib import Path
import pytest
from xdc_fast.synthetic import make_synthetic_av

AVDIGITS = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'avdigits'   # ../shared/data/avdigits beside the repo


@pytest.fixture(scope='session', autouse=True)
def verify_cache_dir(tmp_path_factory):
    "Point the verify cache at a session tmp folder so tests never write to ~/.cache (DataLoader workers inherit it)."
    d = tmp_path_factory.mktemp('xdc_fast_cache')
    old = os.environ.get('XDC_FAST_CACHE')
    os.environ['XDC_FAST_CACHE'] = str(d)
    yield d
    if old is None: os.environ.pop('XDC_FAST_CACHE', None)
    else: os.environ['XDC_FAST_CACHE'] = old


@pytest.fixture(scope='session')
def media_dir(tmp_path_factory):
    "Session folder for generated test files; tests write each file once under a name that says what it holds."
    return tmp_path_factory.mktemp('media')


@pytest.fixture(scope='session')
def synth_ds(tmp_path_factory):
    "A small labelled synthetic dataset: 4 classes x 8 clips of 1 s, 64x64, split 24 train / 8 valid."
    return make_synthetic_av(tmp_path_factory.mktemp('synth')/'ds', n_classes=4, clips_per_class=8, seed=0,
                             valid_pct=0.25, size=64, secs=1.0, fps=16)


@pytest.fixture(scope='session')
def avdigits():
    "The real AV-digits benchmark (2000 clips, 10 digits); skips the test when it is not beside the project."
    if not AVDIGITS.is_dir():
        pytest.skip("../shared/data/avdigits not found: the real AV-digits benchmark lives beside the project in CI; skipping")
    return AVDIGITS
