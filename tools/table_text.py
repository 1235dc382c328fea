"""The paper's table, its targets and its ablation as markdown, from the benchmark's JSON, into the docs.

    python tools/table_text.py            # rewrite every marked block from benchmarks/results/*.json
    python tools/table_text.py --check    # exit 1 naming each block that is not what its JSON gives (tools/check.sh runs this)
    python tools/table_text.py --print table paper_table     # one block, to stdout

A block is the text between `<!-- table_text:KIND:STEM -->` and `<!-- /table_text -->` (each on its own line) in a
markdown cell of `nbs/index.ipynb` (hence README.md) or `nbs/tutorials/paper_table.ipynb`, or in `benchmarks/README.md`.
KIND is `table` (the variants with mean ± std over seeds), `targets` (the orderings and the issue's targets) or
`ablation` (the single-seed rows beside the defaults), made from `benchmarks/results/STEM.json`; or `prose`, what the
numbers mean, written by hand once in `benchmarks/results/STEM.md` beside its JSON and copied into every block that
names it (so the three documents cannot drift apart)."""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
RESULTS = root/'benchmarks'/'results'
FILES = [root/'nbs'/'index.ipynb', root/'nbs'/'tutorials'/'paper_table.ipynb', root/'benchmarks'/'README.md']
BLOCK = re.compile(r'(<!-- table_text:(\w+):(\w+) -->\n)(.*?)(<!-- /table_text -->)', re.S)
NAMES = {'random': 'random init', 'sdc': 'SDC', 'mdc': 'MDC', 'cdc': 'CDC', 'xdc_paper': 'XDC, paper recipe',
         'xdc': '**XDC** (xdc_fast recipe)', 'contrastive': 'contrastive (InfoNCE alone)', 'supervised': 'supervised (same budget)'}

def _paper_table():
    "benchmarks/paper_table.py (its `VARIANTS`, `PROBES`, `ABLATION`, `orderings` and `targets`)."
    if str(root) not in sys.path: sys.path.insert(0, str(root))
    from benchmarks import paper_table
    return paper_table

def measured(t, pt)->str:
    "When, where and how long: from the JSON's config and the runs' own `seconds`."
    c, variants = t['config'], [v for v in pt.VARIANTS if v in t]
    secs = [r['seconds'] for v in variants for r in t[v]['per_seed'] if 'seconds' in r]
    took = f"; the {len(secs)} runs took {sum(secs) / 60:.0f} min" if secs else ''
    n = min(len(t[v]['per_seed']) for v in variants)
    part = ('' if not c.get('partial') else f", **partial**: {n} of {c['seeds']} seeds for every variant so far" if n < c['seeds']
            else ', all seeds (the run stopped in its ablation)')
    opts = ', '.join(f"`{k}={c[k]!r}`" for k in pt.OVERRIDES if k in c)     # the table's overrides of the recipe
    merged = f", merged from {' and '.join(f'`{f}`' for f in c['merged_from'])} (rows measured with the same settings)" if c.get('merged_from') else ''
    sched = f", `fit_{c['schedule']}`" if c.get('schedule') else ', `fit_one_cycle`'
    ks = f", clusterings of k = {', '.join(map(str, c['multi_k']))} per modality" if c.get('multi_k') else ''
    return (f"Measured {c['date']} on {c['machine']}{' (CUDA)' if c.get('cuda') else ''}: {c['epochs']} epochs{sched}{ks}, "
            f"`{c['video_arch']}` + `{c['audio_arch']}`{', the xdc_fast rows with ' + opts if opts else ''}, {c['seeds']} seeds{part}{merged}{took} "
            f"(mean ± sample standard deviation over seeds):")

def table(t, pt)->str:
    rows = ['| variant | digit (video) | digit (audio) | speaker (audio, nuisance) | background (video, nuisance) | seeds |',
            '|---|---:|---:|---:|---:|---:|']
    for v in pt.VARIANTS:
        if v not in t: continue
        cells = [f"{t[v][p]:.3f} ± {t[v][p + '_std']:.3f}" if p in t[v] else '-' for p in pt.PROBES]
        rows.append(f"| {NAMES[v]} | " + ' | '.join(cells) + f" | {len(t[v]['per_seed'])} |")
    return measured(t, pt) + '\n\n' + '\n'.join(rows)

def targets(t, pt)->str:
    lines = [f"- **{p.capitalize()}** digit probe: " + ' > '.join(f"{v} {t[v][p]:.3f}" for v in pt.orderings(t, p))
             + (f" (supervised {t['supervised'][p]:.3f})" if 'supervised' in t else '') for p in ('video', 'audio')]
    lines += [f"- {name}: **{'met' if met else 'not met'}** ({nums})" for name, met, nums in pt.targets(t)]
    return '\n'.join(lines)

def ablation(t, pt)->str:
    ab = t.get('ablation') or {}
    if not ab: return 'No ablation in this file yet (`--ablation --resume` adds it).'
    base = ab.get('xdc (defaults)')
    rows = ['| XDC, seed 0, with | digit (video) | digit (audio) | speaker | background |', '|---|---:|---:|---:|---:|']
    for name, r in ab.items():
        if 'error' in r: rows.append(f"| {name} | failed: {r['error']} | | | |"); continue
        d = {p: f" ({r[p] - base[p]:+.3f})" if base and name != 'xdc (defaults)' else '' for p in ('video', 'audio')}
        rows.append(f"| {name} | {r['video']:.3f}{d['video']} | {r['audio']:.3f}{d['audio']} | "
                    f"{r.get('speaker', float('nan')):.3f} | {r.get('background', float('nan')):.3f} |")
    out = '\n'.join(rows)
    missing = [n for n, o in pt.ABLATION.items() if n not in ab and not pt.same_as_recipe(o, t['config'])]   # a row of the recipe's own options is the defaults row
    if missing: out += '\n\nNot in this file: ' + ', '.join(f'`{n}`' for n in missing) + '.'
    return out

KINDS = dict(table=table, targets=targets, ablation=ablation, prose=None)

def block(kind, stem, pt=None)->str:
    if kind not in KINDS: raise SystemExit(f"unknown block kind {kind!r}: pick one of {', '.join(KINDS)}")
    path = RESULTS/f"{stem}.{'md' if kind == 'prose' else 'json'}"
    if not path.exists(): raise SystemExit(f"{path}: no such results file (named by a table_text:{kind}:{stem} block)")
    if kind == 'prose': return path.read_text().strip('\n') + '\n'
    return KINDS[kind](json.loads(path.read_text()), pt or _paper_table()) + '\n'

def _sub(text, pt, where, stale):
    def repl(m):
        new = block(m[2], m[3], pt)
        if new != m[4]: stale.append(f"{where}: table_text:{m[2]}:{m[3]}")
        return m[1] + new + m[5]
    return BLOCK.sub(repl, text)

def update(check=False)->list:
    "Rewrite (or, with `check`, only compare) every block in `FILES`; returns the stale blocks."
    pt, stale = _paper_table(), []
    for f in FILES:
        if f.suffix == '.ipynb':
            nb, changed = json.loads(f.read_text()), False
            for i, c in enumerate(nb['cells']):
                if c['cell_type'] != 'markdown': continue
                src = ''.join(c['source'])
                new = _sub(src, pt, f"{f.relative_to(root)} cell {i}", stale)
                if new != src: c['source'], changed = new.splitlines(keepends=True), True
            if changed and not check: f.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + '\n')
        else:
            text = f.read_text(); new = _sub(text, pt, str(f.relative_to(root)), stale)
            if not check and new != text: f.write_text(new)
    return stale

if __name__ == '__main__':
    if sys.argv[1:2] == ['--print']: print(block(*sys.argv[2:4]), end='')
    elif '--check' in sys.argv:
        if stale := update(check=True):
            sys.exit("stale table text (run python tools/table_text.py, then python tools/make_readme.py):\n  " + '\n  '.join(stale))
    else:
        stale = update()
        print(f"rewrote {len(stale)} block(s)" + (': ' + ', '.join(stale) if stale else ''))
