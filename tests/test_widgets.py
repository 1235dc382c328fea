"Seeing clusters without a browser: a saved ClusterRun, the ClusterExplorer's logic and widget driven from Python, its HTML export."
import base64, io, re, warnings
import av
import pytest
import torch
import matplotlib
matplotlib.use('agg')
from fastai.torch_core import set_seed
from xdc_fast.data.block import AVDataLoaders
from xdc_fast.learner import xdc_learner
from xdc_fast.results import ClusterRun, SaveClusterRun, as_run
from xdc_fast.widgets import (ClusterExplorer, cluster_members, cluster_confusion, show_clusters,
                              plot_metrics, plot_cluster_sizes, plot_confusion)


@pytest.fixture(scope='module')
def trained(synth_ds, tmp_path_factory):
    "One epoch of XDC (tiny encoders) on the 4-class synthetic set, saved as it trains: (learner, path of the saved run)."
    dls = AVDataLoaders.from_folder(synth_ds, bs=8, n_frames=4, size=32, crop=32, num_workers=0, progress=False)
    set_seed(0)
    learn = xdc_learner(dls, 'xdc', n_clusters=(3, 3), video_arch='r2plus1d_small', audio_arch='resnet_small_audio', pca_dim=16)
    path = tmp_path_factory.mktemp('run')/'run.pt'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        learn.fit(1, 1e-3, cbs=SaveClusterRun(path))
    return learn, path


@pytest.fixture(scope='module')
def explorer(trained):
    return ClusterExplorer(trained[1], n_samples=3, size=48)


def test_run_saved_plain_and_complete(trained):
    learn, path = trained
    assert [p.name for p in path.parent.iterdir()] == ['run.pt']            # atomic: no temporary file left
    d = torch.load(path, weights_only=True)                                 # plain tensors and lists only
    assert set(d['clusterings']) == {'v3', 'a3'} and d['variant'] == 'xdc'
    run = ClusterRun.load(path)
    assert run.files == list(learn.dls.files) and run.vocab == learn.dls.label_vocab
    st = learn.model.cluster_state
    for name in ('v3', 'a3'):
        for key in ('labels', 'dist', 'centroids'): assert torch.equal(run.clusterings[name][key], st[name][key])
    assert torch.equal(run.train_ids, learn.cluster.train_ids) and torch.equal(run.labels, learn.dls.labels)
    assert len(run.history) == 1 and {'train_loss', 'nmi_true_v3', 'nmi_va'} <= set(run.history[0])


def test_run_moves_with_its_data(trained, tmp_path):
    run = ClusterRun.load(trained[1], root=tmp_path/'moved')
    assert all(str(f).startswith(str(tmp_path/'moved')) for f in run.files)
    assert ClusterExplorer(run).media(0) == ''                              # missing file: no clip, no crash


def test_learner_and_run_agree(trained):
    learn, path = trained
    run = as_run(path)
    for m in ('video', 'audio'): assert cluster_members(learn, m, 4) == cluster_members(run, m, 4)
    assert torch.equal(cluster_confusion(learn), cluster_confusion(run))
    assert ClusterExplorer(learn).clusters('purity') == ClusterExplorer(run).clusters('purity')


def test_explorer_logic(explorer):
    run = explorer.run
    assert run.modalities == ['video', 'audio']
    for m in run.modalities:
        rows = explorer.clusters('size', modality=m)
        assert sum(r['size'] for r in rows) == len(run.train_ids)
        assert [r['size'] for r in rows] == sorted((r['size'] for r in rows), reverse=True)
        for key in ('purity', 'agreement'):
            vals = [r[key] for r in explorer.clusters(key, modality=m)]
            assert vals == sorted(vals, reverse=True) and all(0 < v <= 1 for v in vals)
        for r in rows:
            c, name = r['cluster'], run.clustering_name(m)
            near = explorer.members(c, modality=m, n=0)
            assert len(near) == r['size']
            dist = run.clusterings[name]['dist'][torch.tensor(near)]
            assert torch.all(dist[1:] >= dist[:-1])                          # nearest to the centroid first
            rand = explorer.members(c, 'random', n=0, modality=m)
            assert sorted(rand) == sorted(near) and rand == explorer.members(c, 'random', n=0, modality=m)  # seeded
            assert explorer.members(c, modality=m) == near[:3]
            hist, cross = explorer.label_hist(c, m), explorer.cross_modal(c, m)
            assert sum(n for _, n in hist) == r['size'] and hist[0] == r['top'][0]
            assert r['purity'] == pytest.approx(hist[0][1] / r['size'])
            assert sum(n for _, n in cross) == r['size'] and r['agreement'] == pytest.approx(cross[0][1] / r['size'])
    cm = cluster_confusion(run)
    c = explorer.clusters(modality='video')[0]['cluster']
    assert dict(explorer.cross_modal(c, 'video')) == {j: n for j, n in enumerate(cm[c].tolist()) if n}


def test_explorer_errors(explorer, synth_ds):
    with pytest.raises(ValueError, match="sort_by must be 'size', 'purity' or 'agreement'"): explorer.clusters('colour')
    with pytest.raises(ValueError, match="mode must be 'nearest' or 'random'"): explorer.members(0, 'first')
    with pytest.raises(ValueError, match="no 'joint' clustering; it has v3, a3"): explorer.clusters(modality='joint')
    dls = AVDataLoaders.from_folder(synth_ds, bs=8, n_frames=4, size=32, crop=32, num_workers=0, progress=False)
    learn = xdc_learner(dls, 'xdc', n_clusters=(3, 3), video_arch='r2plus1d_small', audio_arch='resnet_small_audio')
    with pytest.raises(ValueError, match='has not clustered yet'): ClusterExplorer(learn)


def test_media_lazy_and_cached(trained):
    ex = ClusterExplorer(trained[1], size=48, cache_size=2)
    assert ex.media.cache_info().currsize == 0                              # nothing decoded up front
    uri = ex.media(0)
    ex.media(0)
    assert ex.media.cache_info().hits == 1
    data = base64.b64decode(uri.split(',', 1)[1])
    with av.open(io.BytesIO(data)) as c:                                    # a real clip with sound
        assert c.streams.video[0].codec_context.name == 'h264' and c.streams.audio[0].codec_context.name == 'aac'
        frames = list(c.decode(video=0))
        assert len(frames) == 16 and (frames[0].width, frames[0].height) == (48, 48)
        c.seek(0)
        audio = torch.cat([torch.from_numpy(f.to_ndarray()).flatten() for f in c.decode(audio=0)])
        assert audio.abs().max() > 0.01                                     # not silence
    for i in (1, 2, 3): ex.media(i)
    assert ex.media.cache_info().currsize == 2                              # LRU: bounded


def test_widget_driven_from_python(explorer):
    ctl = explorer.widget().controls
    assert explorer.widget() is explorer.widget()                           # built once
    top = explorer.clusters(modality='video')[0]
    assert ctl['cluster'].value == top['cluster'] and f"video cluster {top['cluster']} · {top['size']} clips" in ctl['view'].value
    assert ctl['view'].value.count('<video') == min(3, top['size'])
    ctl['mode'].value = 'random'
    rand = explorer.members(top['cluster'], 'random')
    assert all(explorer.media(i) in ctl['view'].value for i in rand)
    ctl['modality'].value = 'audio'
    assert ctl['cluster'].value == explorer.clusters(modality='audio')[0]['cluster'] and 'video clusters' in ctl['view'].value
    ctl['sort'].value = 'agreement'
    assert [v for _, v in ctl['cluster'].options] == [r['cluster'] for r in explorer.clusters('agreement', modality='audio')]
    ctl['modality'].value, ctl['mode'].value, ctl['sort'].value = 'video', 'nearest', 'size'


def test_mimebundle_embeds_static_html(trained):
    b = ClusterExplorer(trained[1], size=32, n_samples=1)._repr_mimebundle_()
    assert 'application/vnd.jupyter.widget-view+json' in b and 'text/html' not in b    # no encoding of every cluster by default
    b = ClusterExplorer(trained[1], size=32, n_samples=1, embed=True)._repr_mimebundle_()
    assert b['text/html'].startswith('<div class="xdc-explorer"')


def test_export_html_self_contained(explorer, tmp_path):
    page = explorer.export_html(tmp_path/'explorer.html')
    s = page.read_text()
    n = sum(min(3, r['size']) for m in ('video', 'audio') for r in explorer.clusters(modality=m))
    assert s.count('<video') == n == s.count('src="data:video/mp4;base64,')
    assert not re.search(r'(src|href)="(https?:)?//', s)                    # nothing to fetch: works offline
    assert s.count('class="xdc-card"') == len(explorer.clusters(modality='video')) + len(explorer.clusters(modality='audio'))
    assert '<section data-modality="audio">' in s and 'true labels' in s and 'audio clusters' in s


def test_joint_only_run(trained):
    "A CDC run has one joint clustering: no cross-modal view, agreement None, everything else works."
    run = ClusterRun.load(trained[1])
    v = run.clusterings['v3']
    cdc = ClusterRun({'av3': dict(v, source='av')}, run.files, run.train_ids, labels=run.labels, vocab=run.vocab)
    ex = ClusterExplorer(cdc, size=32, n_samples=1)
    assert cdc.modalities == ['joint'] and ex.modality == 'joint'
    assert all(r['agreement'] is None for r in ex.clusters('agreement')) and ex.cross_modal(0) == []
    assert ex.to_html().count('class="xdc-card"') == len(ex.clusters())
    with pytest.raises(ValueError, match="no 'video' clustering"): plot_confusion(cdc)


def test_plots(trained):
    run = as_run(trained[1])
    fig = show_clusters(run, 'audio', n_samples=2, max_clusters=2)
    assert len(fig.axes) == 2 * 4 and 'purity' in fig.axes[0].texts[0].get_text()
    fig = trained[0].show_clusters('audio', n_samples=2, max_clusters=2)      # the Learner shortcut
    assert [t.get_text() for a in fig.axes for t in a.texts] == [t.get_text() for a in show_clusters(run, 'audio', n_samples=2, max_clusters=2).axes for t in a.texts]
    assert {l.get_label() for l in plot_metrics(run).axes[0].lines} == {k for k in run.history[0] if k.startswith('nmi')}
    assert len(plot_cluster_sizes(run).axes) == 2
    assert plot_confusion(run).axes[0].images[0].get_array().sum() == len(run.train_ids)
