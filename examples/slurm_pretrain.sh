#!/bin/bash
# XDC pretraining on several nodes under SLURM: one task per node, each runs torchrun for its GPUs.
# Submit: sbatch examples/slurm_pretrain.sh /data/videos /shared/runs/xdc1
# Resume after a time limit or a crash: submit the same command again (it passes --resume when a checkpoint exists).
# The run folder must be on a file system every node sees (only global rank 0 writes; every rank reads it on resume).
#SBATCH --job-name=xdc-pretrain
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=64
#SBATCH --time=24:00:00
#SBATCH --output=%x-%j.out
set -euo pipefail
DATA=${1:?usage: sbatch slurm_pretrain.sh DATA OUT}
OUT=${2:?usage: sbatch slurm_pretrain.sh DATA OUT}
GPUS=${SLURM_GPUS_ON_NODE:-8}
HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)     # rendezvous on the first node
RESUME=$([ -f "$OUT/checkpoint.pth" ] && echo --resume || true)

srun torchrun \
  --nnodes "$SLURM_NNODES" --nproc_per_node "$GPUS" \
  --rdzv_backend c10d --rdzv_endpoint "$HEAD:29500" --rdzv_id "$SLURM_JOB_ID" \
  -m xdc_fast.cli pretrain "$DATA" --out "$OUT" $RESUME \
    --variant xdc --n-clusters 256,256 --video-arch r2plus1d_18 --audio-arch resnet18_audio \
    --epochs 100 --bs 32 --workers $(( SLURM_CPUS_PER_TASK / GPUS )) --lr 1e-3
