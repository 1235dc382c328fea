"Every public name of the package has its own rendered entry in the docs: a notebook cell that is `show_doc(name)` alone."
import importlib, json, pkgutil, re
from pathlib import Path
import xdc_fast

NBS = Path(__file__).resolve().parents[1]/'nbs'


def public_names()->dict:
    "`{name: module}` of every name in a module's `__all__`, constants (UPPER_CASE) aside."
    out = {}
    for m in pkgutil.walk_packages(xdc_fast.__path__, 'xdc_fast.'):
        if m.name.rsplit('.', 1)[-1] in ('_modidx', 'all'): continue
        mod = importlib.import_module(m.name)
        for n in getattr(mod, '__all__', []):
            if not n.isupper(): out.setdefault(n, m.name)
    return out


def documented()->set:
    "Names with a cell of their own that is one `show_doc(name...)` call: the docs render exactly one entry per such cell."
    names = set()
    for nb in NBS.rglob('*.ipynb'):
        for c in json.loads(nb.read_text())['cells']:
            lines = [l for l in ''.join(c['source']).splitlines() if l.strip() and not l.startswith('#|')]
            if c['cell_type'] == 'code' and len(lines) == 1 and (m := re.match(r'show_doc\(([\w.]+)', lines[0])): names.add(m.group(1))
    return names


def test_every_public_name_has_a_docs_entry():
    names, docs = public_names(), documented()
    assert len(names) > 100                                          # the whole package was seen
    missing = sorted(f"{m}.{n}" for n, m in names.items() if n not in docs)
    assert not missing, f"{len(missing)} public names have no show_doc cell of their own: {', '.join(missing)}"
