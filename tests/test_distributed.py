"""Two processes on the CPU (`torchrun --nproc_per_node 2`, gloo): collectives on uneven shards, and pretraining
through the command line, where both ranks must hold identical labels every epoch and identical weights at the end.

Compared with a one-process run of the same command: the epoch-0 labels are identical (same seed, same initial
weights, so the same features and the same k-means); later epochs differ, because two ranks train with twice the
effective batch (each takes half of rank 0's sampled epoch) and so take different steps."""
import json, os, signal, subprocess, sys
from pathlib import Path
import pytest
import torch
import torch.distributed as dist
from xdc_fast.synthetic import make_synthetic_av

WORKER = Path(__file__).with_name('distributed_worker.py')
pytestmark = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="torch.distributed with the gloo backend is not available in this torch build")


def _run(args, n_proc=2, timeout=300):
    "Run the worker under torchrun (n_proc > 1) or plain python; fail with its output if it fails."
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    launch = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(n_proc)] if n_proc > 1 else [sys.executable]
    p = subprocess.Popen(launch + [str(WORKER), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, start_new_session=True)
    try: out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)                  # torchrun and its ranks: none is left behind
        out, err = p.communicate()
        pytest.fail(f"worker timed out after {timeout} s:\n{err[-6000:]}")
    assert p.returncode == 0, f"worker failed ({p.returncode}):\n{out[-3000:]}\n{err[-6000:]}"


@pytest.mark.slow
def test_collectives_uneven_shards(tmp_path):
    _run(['comm', tmp_path])
    r0, r1 = (torch.load(tmp_path/f'comm_rank{r}.pt', weights_only=False) for r in (0, 1))
    assert (r0['world'], len(r0['shard']), len(r1['shard'])) == (2, 5, 4)                  # uneven shards
    i = torch.arange(9).float()
    assert torch.equal(r0['full'], torch.stack([i, -i], 1).half()) and r1['full'] is None    # all rows, in place, on rank 0 only
    assert r0['obj']['from'] == r1['obj']['from'] == 0 and torch.equal(r0['obj']['labels'], r1['obj']['labels'])
    assert r0['idxs'] + r1['idxs'] == r0['rank0_draw']          # rank 0's weighted draw, split: each sampled item once across ranks


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return make_synthetic_av(tmp_path_factory.mktemp('dist')/'data', n_classes=3, clips_per_class=8, seed=0)


ARGS = ['--recipe', 'paper', '--variant', 'xdc', '--n-clusters', '3,3', '--video-arch', 'r2plus1d_small', '--audio-arch', 'resnet_small_audio',
        '--bs', '4', '--workers', '0', '--n-frames', '4', '--size', '32', '--crop', '32', '--pca-dim', '8', '--lr', '1e-3']


def _same(m0, m1)->bool:
    "Two state dicts hold the same weights and the same clustering state (`cluster_state._extra_state`: nested, not a tensor)."
    def eq(a, b):
        if isinstance(a, dict): return a.keys() == b.keys() and all(eq(a[k], b[k]) for k in a)
        return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b
    return eq(m0, m1)

def _targets(d, rank, epoch): return torch.load(d/f'targets_rank{rank}_epoch{epoch}.pt')


@pytest.mark.slow
def test_pretrain_two_ranks_default_recipe(tiny, tmp_path):
    "xdc_fast's recipe under DistributedDataParallel, with a one-epoch warm-up: the warm-up epoch (heads weighted 0) and the clustering epoch with the auxiliary InfoNCE."
    run, rec = tmp_path/'run', tmp_path/'rec'; rec.mkdir()
    _run(['cli', rec, '--', tiny, '--out', run, '--epochs', '2', '--warmup-epochs', '1', *ARGS[2:]])   # ARGS without '--recipe paper'
    assert sorted(p.name for p in rec.glob('targets_*')) == ['targets_rank0_epoch1.pt', 'targets_rank1_epoch1.pt']   # epoch 0: the warm-up
    assert torch.equal(_targets(rec, 0, 1), _targets(rec, 1, 1))
    m0, m1 = (torch.load(rec/f'model_rank{r}.pt') for r in (0, 1))
    assert any(k.startswith('proj.') for k in m0) and _same(m0, m1), "ranks end with different weights"


@pytest.mark.slow
def test_pretrain_two_ranks_cli(tiny, tmp_path):
    run, rec = tmp_path/'run', tmp_path/'rec'; rec.mkdir()
    _run(['cli', rec, '--', tiny, '--out', run, '--epochs', '2', *ARGS])
    for e in (0, 1): assert torch.equal(_targets(rec, 0, e), _targets(rec, 1, e)), f"ranks disagree on the labels of epoch {e}"
    m0, m1 = (torch.load(rec/f'model_rank{r}.pt') for r in (0, 1))
    assert m0.keys() == m1.keys() and _same(m0, m1), "ranks end with different weights"
    assert json.loads((run/'config.json').read_text())['world_size'] == 2
    assert (run/'metrics.csv').read_text().count('\n') == 3 and (run/'checkpoint.pth').exists() and (run/'cluster_run.pt').exists()

    one = tmp_path/'one'; one.mkdir()                                   # the same command in one process
    _run(['cli', one, '--', tiny, '--out', tmp_path/'run1', '--epochs', '2', *ARGS], n_proc=1)
    assert torch.equal(_targets(one, 0, 0), _targets(rec, 0, 0))       # same features at epoch 0: same labels

    res = tmp_path/'res'; res.mkdir()                                   # resume the 2-rank run for a third epoch
    _run(['cli', res, '--', tiny, '--out', run, '--epochs', '3', '--resume', *ARGS])
    assert sorted(p.name for p in res.glob('targets_*')) == ['targets_rank0_epoch2.pt', 'targets_rank1_epoch2.pt']   # epochs 0-1 not redone
    assert torch.equal(_targets(res, 0, 2), _targets(res, 1, 2))
    assert (run/'metrics.csv').read_text().count('\n') == 4             # header + 3 epochs
    assert torch.load(run/'checkpoint.pth', weights_only=True)['epoch'] == 2


def test_pretrain_bad_arguments(tiny, tmp_path):
    "Bad arguments exit non-zero with a message naming the option, before any heavy work."
    for extra, msg in [(['--n-clusters', '8'], '--n_clusters must be two integers'), (['--video-arch', 'vgg'], "unknown encoder 'vgg'"),
                       (['--epochs', '0'], '--epochs and --bs must be >= 1'), (['--resume'], '--resume but')]:
        r = subprocess.run([sys.executable, '-m', 'xdc_fast.cli', 'pretrain', str(tiny), '--out', str(tmp_path/'x'), *extra],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 1 and msg in r.stderr, (extra, r.returncode, r.stderr[-2000:])
    r = subprocess.run([sys.executable, '-m', 'xdc_fast.cli', 'pretrain', str(tiny), '--epochs', 'two'], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "invalid int value: 'two'" in r.stderr
