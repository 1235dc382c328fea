"`tools/gpu_check.py`: on a machine without CUDA it says so and exits 0 (on a CUDA machine it runs every check)."
import subprocess, sys
from pathlib import Path
import torch

TOOL = Path(__file__).resolve().parents[1]/'tools'/'gpu_check.py'


def test_gpu_check_runs_here(tmp_path):
    r = subprocess.run([sys.executable, str(TOOL), '--out', str(tmp_path)], capture_output=True, text=True, timeout=600)
    if torch.cuda.is_available():
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert 'checks passed' in r.stdout and 'FAIL' not in r.stdout
    else:
        assert r.returncode == 0 and r.stdout.startswith('gpu_check: no CUDA device on this machine'), r.stdout + r.stderr
