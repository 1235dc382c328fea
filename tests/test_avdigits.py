"AV-digits built by the package: from stand-in sources anywhere, and from the shared FSDD and MNIST copies when they are beside the project."
import csv, functools, hashlib, http.server, shutil, subprocess, sys, threading, zipfile
from pathlib import Path
import numpy as np
import pytest
import xdc_fast.avdigits as avdigits
from xdc_fast.avdigits import make_avdigits, fsdd_recordings, mnist_test_set, FSDD_COMMIT, _stand_in_sources
from xdc_fast.data.decode import decode_clip

SHARED = Path(__file__).resolve().parents[1].parent/'shared'/'data'


@pytest.fixture(scope='module')
def sources():
    "The shared FSDD and MNIST copies (the sources of ../shared/data/avdigits); skips when they are not beside the project."
    if not (SHARED/'fsdd'/'recordings').is_dir() or not (SHARED/'mnist').is_dir():
        pytest.skip("../shared/data/fsdd and ../shared/data/mnist not found: they live beside the project in CI; skipping")
    return SHARED/'fsdd', SHARED/'mnist'


def _rows(path): return list(csv.DictReader(open(Path(path)/'labels.csv')))


def test_stand_in_build(tmp_path):
    fsdd, mnist = _stand_in_sources(tmp_path, speakers=('ann',), n_takes=6)
    out = make_avdigits(tmp_path/'avd', fsdd=fsdd, mnist=mnist, speakers=['ann'], digits=[3, 7], takes=range(6), images=(0, 60),
                        n_workers=0, progress=False)
    rows = _rows(out)
    assert [r['file'] for r in rows] == [f"{'valid' if t < 5 else 'train'}/{d}/{d}_ann_{t}.mp4" for d in (3, 7) for t in range(6)]
    v, a = decode_clip(out/rows[0]['file'], start=0., n_frames=16, fps=16, size=64)
    assert v.shape == (16, 64, 64, 3) and a.shape == (16000,)
    assert v.float().std() > 5 and a.float().std() > 0.01          # a picture and a sound, not blank frames or silence


def test_bad_sources_named(tmp_path):
    fsdd, mnist = _stand_in_sources(tmp_path, speakers=('ann',), n_takes=2)
    with pytest.raises(ValueError, match="no FSDD recordings of zoe.*it has ann"): fsdd_recordings(fsdd, ['zoe'])
    with pytest.raises(FileNotFoundError, match="recordings are not in"):
        make_avdigits(tmp_path/'x', fsdd=fsdd, mnist=mnist, speakers=['ann'], takes=range(5), images=(0, 60), n_workers=0, progress=False)
    with pytest.raises(ValueError, match="images must be a range"):
        make_avdigits(tmp_path/'y', fsdd=fsdd, mnist=mnist, speakers=['ann'], takes=range(2), images=(0, 600), n_workers=0, progress=False)
    (tmp_path/'junk').mkdir(); (tmp_path/'junk'/'t10k-images-idx3-ubyte').write_bytes(b'not an idx file')
    (tmp_path/'junk'/'t10k-labels-idx1-ubyte').write_bytes(b'not an idx file')
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte is not an IDX file"): mnist_test_set(tmp_path/'junk')
    assert not (tmp_path/'x'/'labels.csv').exists()                   # nothing claims to be complete


def test_download_checked_by_hash(tmp_path, sources):
    "A download is checked speaker by speaker against FSDD's commit: the shared copy passes, one changed byte fails."
    rec = tmp_path/f'fsdd-{FSDD_COMMIT[:8]}'/'recordings'
    rec.mkdir(parents=True)
    for f in (sources[0]/'recordings').glob('*_george_*.wav'): shutil.copy(f, rec)
    assert fsdd_recordings(None, ['george'], cache=tmp_path) == rec         # found in the cache: no download
    f = rec/'3_george_7.wav'
    f.write_bytes(f.read_bytes()[:-1] + bytes([f.read_bytes()[-1] ^ 1]))
    with pytest.raises(ValueError, match="do not match FSDD"): fsdd_recordings(None, ['george'], cache=tmp_path)


@pytest.fixture
def server(tmp_path):
    "A local web server over `tmp_path/'www'` that counts its requests: the downloads' own code run end to end, offline."
    root, hits = tmp_path/'www', []
    root.mkdir()
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): hits.append(self.path)
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Handler, directory=str(root)))
    httpd.handle_error = lambda *args: None                          # torchvision closes its first request of each URL early: no traceback
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f'http://127.0.0.1:{httpd.server_address[1]}', hits
    httpd.shutdown(); httpd.server_close()


def test_fsdd_download(tmp_path, sources, server, monkeypatch):
    "FSDD downloaded as GitHub serves it (one zip of the commit), unpacked into the cache, checked by hash, and fetched once."
    www, url, hits = server
    with zipfile.ZipFile(www/'fsdd.zip', 'w') as z:                  # the archive's layout: free-spoken-digit-dataset-<commit>/recordings/
        for f in sorted((sources[0]/'recordings').glob('*_george_*.wav')): z.write(f, f'free-spoken-digit-dataset-{FSDD_COMMIT}/recordings/{f.name}')
        z.write(sources[0]/'README.md', f'free-spoken-digit-dataset-{FSDD_COMMIT}/README.md')
    monkeypatch.setattr(avdigits, 'FSDD_URL', f'{url}/fsdd.zip')
    rec = fsdd_recordings(None, ['george'], cache=tmp_path/'cache')
    assert rec == tmp_path/'cache'/f'fsdd-{FSDD_COMMIT[:8]}'/'recordings' and len(list(rec.glob('*.wav'))) == 500
    assert hits == ['/fsdd.zip'] and [p.name for p in rec.parent.iterdir()] == ['recordings']   # no temporary left beside it
    assert fsdd_recordings(None, ['george'], cache=tmp_path/'cache') == rec and len(hits) == 1     # the second call reads the cache
    with pytest.raises(ValueError, match="no FSDD recordings of theo"): fsdd_recordings(None, ['theo'], cache=tmp_path/'cache')
    monkeypatch.setattr(avdigits, 'FSDD_URL', f'{url}/missing.zip')                          # a 404, then nothing listening
    with pytest.raises(ConnectionError, match=r"could not download FSDD from http://127.0.0.1:\d+/missing.zip \(HTTP 404 Not Found\); pass fsdd=FOLDER with a local copy"): fsdd_recordings(None, cache=tmp_path/'c2')
    monkeypatch.setattr(avdigits, 'FSDD_URL', 'http://127.0.0.1:9/fsdd.zip')                 # the discard port: nothing listens
    with pytest.raises(ConnectionError, match=r"127.0.0.1:9/fsdd.zip \(.*refused.*\); pass"): fsdd_recordings(None, cache=tmp_path/'c2')
    assert not (tmp_path/'c2'/f'fsdd-{FSDD_COMMIT[:8]}'/'recordings').exists()                 # a failed download leaves no cache to trust


def test_mnist_download(tmp_path, sources, server, monkeypatch):
    "MNIST through torchvision's dataset class (its mirror list pointed at the local server): the same arrays as the local copy."
    from torchvision.datasets import MNIST
    www, url, hits = server
    res = []
    for name in ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'):
        shutil.copy(sources[1]/name, www/name)
        res.append((name, hashlib.md5((www/name).read_bytes()).hexdigest()))
    monkeypatch.setattr(MNIST, 'mirrors', [url + '/'])
    monkeypatch.setattr(MNIST, 'resources', res)                     # the training files are not needed for the test set
    images, labels = mnist_test_set(None, cache=tmp_path/'cache')
    local = mnist_test_set(sources[1])
    assert images.shape == local[0].shape == (len(labels), 28, 28) and (images == local[0]).all() and (labels == local[1]).all()
    assert sorted(set(hits)) == ['/t10k-images-idx3-ubyte.gz', '/t10k-labels-idx1-ubyte.gz']   # (torchvision opens each URL twice)
    n = len(hits)
    mnist_test_set(None, cache=tmp_path/'cache')
    assert len(hits) == n                                            # downloaded once


def test_shared_sources_give_shared_labels(tmp_path, sources):
    "Built from the shared sources with the shared set's settings, a subset has the shared set's files, labels and split, row for row."
    out = make_avdigits(tmp_path/'avd', fsdd=sources[0], mnist=sources[1], speakers=['george', 'nicolas'], digits=[2, 5], progress=False)
    ref = [r for r in _rows(SHARED/'avdigits') if r['speaker'] in ('george', 'nicolas') and r['digit'] in ('2', '5')]
    assert _rows(out) == ref and len(ref) == 200


BUILD = Path(__file__).resolve().parents[1]/'nbs'/'_data'/'avdigits'   # the paper-table tutorial's build (reused when the docs ran first)


@pytest.mark.slow
def test_full_build_like_shared(sources):
    "The whole build: 2000 clips, the shared set's labels.csv row for row, and raw pixels and log-mels that probe like the shared set's."
    r = subprocess.run([sys.executable, '-m', 'xdc_fast.cli', 'avdigits', str(BUILD), '--fsdd', str(sources[0]),
                        '--mnist', str(sources[1])], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert '1800 train / 200 valid clips, speakers george, jackson, lucas, nicolas' in r.stdout
    assert _rows(BUILD) == _rows(SHARED/'avdigits')
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from xdc_fast.data.audio import LogMel
    from xdc_fast.core import TensorAudio
    import torch.nn.functional as F

    def measure(root, rows):
        "Each clip decoded once: raw pixels (2 frames, 16 px) and log-mels for the probes; the digit's ink box on the clip's first frame."
        xs_v, xs_a, hs, cs = [], [], [], []
        yy, xx = np.mgrid[0:64, 0:64].reshape(2, -1)
        A = np.stack([xx, yy, np.ones_like(xx)], 1).astype(np.float64)
        for row in rows:
            v, a = decode_clip(root/row['file'], start='centre', n_frames=2, fps=4, size=64, audio_secs=1.0)
            xs_v.append(F.avg_pool2d(v.permute(0, 3, 1, 2).float(), 4).flatten().numpy() / 255)
            xs_a.append(LogMel()(TensorAudio(a[None].float())).flatten().numpy())
            f = v[0].float().numpy().reshape(-1, 3)                          # (64*64,3)
            ink = np.zeros(len(f), bool)
            for _ in range(2):                                               # the background is a linear gradient: fit it without the ink
                coef = np.linalg.lstsq(A[~ink], f[~ink], rcond=None)[0]
                ink = (np.abs(f - A @ coef).sum(-1) > 60)
            ink = ink.reshape(64, 64)
            if ink.sum() >= 5: y, x = np.nonzero(ink); hs.append(y.max() - y.min() + 1); cs += [x.mean(), y.mean()]
        return np.stack(xs_v), np.stack(xs_a), np.median(hs), np.percentile(cs, [5, 95])

    def probe(x, rows, key):             # a standardised ridge classifier: closed form, under a second (lbfgs took 20 s a probe)
        return cross_val_score(make_pipeline(StandardScaler(), RidgeClassifier(alpha=100.)), x, [r[key] for r in rows], cv=3).mean()

    # measured on these 200 clips: digit 0.12 / 0.34 (video / audio) against the shared set's 0.12 / 0.33; speaker (audio) 0.69 against 0.76
    rows = _rows(SHARED/'avdigits')[::10]                                # 200 clips
    mine, ref = measure(BUILD, rows), measure(SHARED/'avdigits', rows)
    assert abs(probe(mine[1], rows, 'speaker') - probe(ref[1], rows, 'speaker')) < 0.15     # the speaker is as audible
    for m, r in zip(mine[:2], ref[:2]): assert abs(probe(m, rows, 'digit') - probe(r, rows, 'digit')) < 0.15
    # the handwriting's size and place: generator 1 drew 18-26 px digits reaching the edges (median 23 px, centres
    # 13-51) against the reference's 30 px near the middle (centres 21-42), and trained far worse
    # (benchmarks/results/archive/avdigits_build_xdc_gen1.json)
    assert abs(mine[2] - ref[2]) <= 3 and np.abs(mine[3] - ref[3]).max() <= 4, (mine[2:], ref[2:])


def test_build_logs_plain_lines(tmp_path, capsys):
    "Built with stdout not a terminal (a log file, CI): no progress-bar fragments (carriage returns) in the output."
    fsdd, mnist = _stand_in_sources(tmp_path, speakers=('ann',), n_takes=2)
    make_avdigits(tmp_path/'avd', fsdd=fsdd, mnist=mnist, speakers=['ann'], digits=[3, 7], takes=range(2), images=(0, 60), n_workers=2)
    out = capsys.readouterr()
    assert '\r' not in out.out + out.err, (out.out[-200:], out.err[-200:])


def test_cli_errors(tmp_path):
    fsdd, mnist = _stand_in_sources(tmp_path, speakers=('ann',), n_takes=2)
    r = subprocess.run([sys.executable, '-m', 'xdc_fast.cli', 'avdigits', str(tmp_path/'avd'), '--fsdd', str(fsdd), '--mnist', str(mnist),
                        '--speakers', 'zoe'], capture_output=True, text=True)
    assert r.returncode != 0 and 'no FSDD recordings of zoe' in r.stderr, r.stderr
    r = subprocess.run([sys.executable, '-m', 'xdc_fast.cli', 'avdigits', str(tmp_path/'avd'), '--images', '5000'], capture_output=True, text=True)
    assert r.returncode != 0 and 'is a range START:STOP' in r.stderr, r.stderr
