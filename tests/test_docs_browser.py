"""The docs site and the cluster explorer in a real browser (headless Chromium): pages render (a screenshot that is
not blank), hold what they should (the DOM after scripts ran), log no page errors, and the explorer's clips play
with sound. docs/ is built by `bash tools/build_docs.sh` (tools/check.sh runs it before pytest); CI installs
chromium in .ci/run."""
import os, re, shutil, subprocess, tempfile
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from xdc_fast.results import ClusterRun
from xdc_fast.widgets import ClusterExplorer

DOCS = Path(__file__).resolve().parents[1]/'docs'
CHROMIUM = next((shutil.which(b) for b in ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable') if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: install it (apt-get install chromium; .ci/run does) to run the browser tests")


def chromium(url, *args, timeout=120):
    "Run headless Chromium on `url` with `args`; returns (stdout, console messages logged to stderr)."
    with tempfile.TemporaryDirectory() as profile:
        cmd = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
               '--no-first-run', '--hide-scrollbars', '--mute-audio', '--autoplay-policy=no-user-gesture-required',
               f'--user-data-dir={profile}', '--enable-logging=stderr', '--v=0', *args, url]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"chromium failed ({r.returncode}) on {url}:\n{r.stderr[-3000:]}"
    return r.stdout, [l for l in r.stderr.splitlines() if re.search(r':CONSOLE[(:]', l) or 'Uncaught' in l]


def page_errors(console):
    "Console lines that report a script error or a resource that failed to load."
    return [l for l in console if re.search(r'Uncaught|Error|Failed to load resource|net::ERR_', l)]


def check_not_blank(png:Path, min_colours=50):
    "The screenshot exists, has many colours and is not one flat colour (the page rendered)."
    im = np.asarray(Image.open(png).convert('RGB'))
    colours = len(np.unique(im.reshape(-1, 3), axis=0))
    assert colours >= min_colours and im.std() > 10, f"{png}: looks blank ({colours} colours, std {im.std():.1f})"
    return im


@pytest.fixture(scope='module')
def docs():
    if not (DOCS/'index.html').exists(): pytest.skip(f"{DOCS}/index.html not built: run bash tools/build_docs.sh first")
    return DOCS


@pytest.mark.parametrize('page,expected', [('index.html', ['xdc_fast', 'docs-nav']),
                                           ('09_widgets.html', ['Seeing clusters', 'class="xdc-explorer"', '<video', 'ClusterExplorer'])])
def test_docs_page_renders(docs, tmp_path, page, expected):
    url = (docs/page).as_uri()
    _, console = chromium(url, '--window-size=1280,2400', f'--screenshot={tmp_path/"page.png"}', '--virtual-time-budget=5000')
    check_not_blank(tmp_path/'page.png')
    dom, console2 = chromium(url, '--dump-dom', '--virtual-time-budget=5000')
    for text in expected: assert text in dom, f"{page}: {text!r} not in the rendered page"
    assert not page_errors(console + console2), f"{page}: page errors:\n" + '\n'.join(page_errors(console + console2))


def test_explorer_docs_need_no_widget_cdn(docs):
    "The explorer in the docs is its static HTML copy: no jupyter-widgets html-manager to fetch, clips as data URIs."
    s = (docs/'09_widgets.html').read_text(encoding='utf-8')
    assert 'html-manager' not in s and 'application/vnd.jupyter.widget-state+json' not in s
    explorer = s[s.index('<div class="xdc-explorer"'):]
    assert not re.search(r'(src|href)="(https?:)?//', explorer) and 'src="data:video/mp4;base64,' in explorer


PROBE = """<script>window.addEventListener('load', function(){ setTimeout(function(){
var out = Array.prototype.map.call(document.querySelectorAll('video'), function(v){
  return [v.readyState, v.videoWidth, v.duration.toFixed(2), v.webkitAudioDecodedByteCount || 0, v.error ? v.error.code : 0].join(','); });
var d = document.createElement('pre'); d.id = 'probe'; d.textContent = 'PROBE ' + out.join(' '); document.body.appendChild(d); }, 1500); });</script>"""


def test_exported_explorer_plays(synth_ds, tmp_path):
    "An exported explorer page opens offline, shows its clusters, and every clip decodes in the browser with video and sound."
    files = sorted(synth_ds.rglob('*.mp4'))[:8]
    n = len(files)
    lab = torch.arange(n) % 2
    cl = {'v2': dict(source='v', k=2, labels=lab, dist=torch.arange(n).float(), centroids=torch.zeros(2, 4)),
          'a2': dict(source='a', k=2, labels=(torch.arange(n) // 4) % 2, dist=torch.arange(n).float(), centroids=torch.zeros(2, 4))}
    ex = ClusterExplorer(ClusterRun(cl, files, range(n)), n_samples=2, size=64)
    page = ex.export_html(tmp_path/'explorer.html')
    page.write_text(page.read_text().replace('</body>', PROBE + '</body>'))
    _, console = chromium(page.as_uri(), '--window-size=1000,1400', f'--screenshot={tmp_path/"explorer.png"}', '--virtual-time-budget=5000')
    check_not_blank(tmp_path/'explorer.png', min_colours=20)
    dom, console2 = chromium(page.as_uri(), '--dump-dom', '--virtual-time-budget=8000')
    assert not page_errors(console + console2), '\n'.join(page_errors(console + console2))
    assert dom.count('class="xdc-card"') == 4 and 'video clusters (v2)' in dom
    assert re.search(r'<section data-modality="audio" style="display: none;?">', dom)   # its script ran: one modality at a time
    probe = re.search(r'PROBE ([^<]*)</pre>', dom)
    assert probe, "the probe script did not run"
    clips = [c.split(',') for c in probe.group(1).split()]
    assert len(clips) == 8
    for ready, width, dur, audio_bytes, err in clips:
        assert int(err) == 0 and int(ready) >= 2 and int(width) == 64 and abs(float(dur) - 1.0) < 0.1, clips
        assert int(audio_bytes) > 0, f"a clip played without decoded sound: {clips}"
