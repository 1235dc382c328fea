"""Run by tests/test_distributed.py, under `torchrun` or plain `python`.

`python distributed_worker.py comm OUT`: collectives on uneven shards (gather_rows, broadcast_object, sharded sampling).
`python distributed_worker.py cli OUT -- PRETRAIN ARGS`: `xdc_fast pretrain ARGS` through the command line's `main()`,
recording each rank's targets after every clustering (OUT/targets_rank{r}_epoch{e}.pt) and its final weights
(OUT/model_rank{r}.pt)."""
import os, sys
from pathlib import Path
import torch


def comm(out):
    import torch.distributed as dist
    from fastai.data.load import DataLoader
    from xdc_fast.distributed import setup_distributed, rank, world_size, shard, gather_rows, broadcast_object, XDCDistributedDL
    setup_distributed()
    r, w = rank(), world_size()
    ids = shard(torch.arange(9))                                  # 5 and 4 items with 2 ranks
    x = torch.stack([ids.float(), -ids.float()], 1).half()       # (m, 2) rows whose content says their index
    full = gather_rows(x, ids, 9)
    obj = broadcast_object({'labels': torch.arange(9) % 3, 'from': r} if r == 0 else None)
    dl = DataLoader(list(range(20)), bs=4, shuffle=True)
    dl.get_idxs = lambda: torch.multinomial(torch.ones(20), 20, replacement=True, generator=torch.Generator().manual_seed(100 + r)).tolist()   # differs per rank
    ddl = XDCDistributedDL(dl)
    idxs = ddl.get_idxs()
    torch.save(dict(rank=r, world=w, shard=ids, full=full, obj=obj, idxs=idxs, rank0_draw=dl.get_idxs() if r == 0 else None),
               Path(out)/f'comm_rank{r}.pt')
    dist.destroy_process_group()


def cli(out, argv):
    from xdc_fast import cli as xcli
    from xdc_fast.callback import ClusterCallback
    from xdc_fast.distributed import unwrap
    r = int(os.environ.get('RANK', 0))
    recluster = ClusterCallback.recluster
    def recording(self, epoch):
        recluster(self, epoch)
        torch.save(self.state.get('targets'), Path(out)/f'targets_rank{r}_epoch{epoch}.pt')
    ClusterCallback.recluster = recording
    pretrain = xcli._pretrain
    def keeping(*args, **kwargs):
        learn = pretrain(*args, **kwargs)
        torch.save(unwrap(learn.model).state_dict(), Path(out)/f'model_rank{r}.pt')
        return learn
    xcli._pretrain = keeping
    sys.argv = ['xdc_fast', 'pretrain', *argv]
    xcli.main()


if __name__ == '__main__':
    torch.set_num_threads(1)
    mode, out = sys.argv[1], sys.argv[2]
    if mode == 'comm': comm(out)
    else: cli(out, sys.argv[sys.argv.index('--') + 1:])
