"""The benchmarks' command lines under both fastcore majors: fastcore 1's `call_parse` names options `--k_sweep`,
fastcore 2's `--k-sweep`; `normalise_argv()` (called before the `@call_parse` function is defined) lets either
spelling work with either, with the console script's own rewriting (`xdc_fast.cli._spelled`). Parameters are
documented with docments comments (`k:int=16, # clusters`), which both majors read (fastcore 2 has no `Param`)."""
import sys
import fastcore
from xdc_fast.cli import _spelled

SEP = '-' if int(fastcore.__version__.split('.')[0]) >= 2 else '_'

def normalise_argv(): sys.argv[1:] = [_spelled(a, SEP) for a in sys.argv[1:]]
