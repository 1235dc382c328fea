__version__ = "0.1.0"

def __getattr__(name):
    "`from xdc_fast import xdc_learner` without importing torch/fastai for `import xdc_fast` itself (fast CLI help)."
    if name == 'xdc_learner':
        from .learner import xdc_learner
        return xdc_learner
    raise AttributeError(f"module 'xdc_fast' has no attribute {name!r}")
