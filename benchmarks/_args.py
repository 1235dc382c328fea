"""The benchmarks' command lines under both fastcore majors: fastcore 1's `call_parse` names options `--k_sweep`,
fastcore 2's `--k-sweep`; `normalise_argv()` (called before the `@call_parse` function is defined) lets either
spelling work with either. Parameters are documented with docments comments (`k:int=16, # clusters`), which both
majors read (fastcore 2 has no `Param`)."""
import sys
import fastcore

SEP = '-' if int(fastcore.__version__.split('.')[0]) >= 2 else '_'

def spelled(arg, sep=SEP):
    "`--k-sweep=8` <-> `--k_sweep=8`, whichever this fastcore's parser expects; other arguments unchanged."
    if not arg.startswith('--'): return arg
    name, eq, val = arg[2:].partition('=')
    return '--' + name.replace('-', sep).replace('_', sep) + eq + val

def normalise_argv(): sys.argv[1:] = [spelled(a) for a in sys.argv[1:]]
