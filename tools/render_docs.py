"""Render the project's notebooks to a static HTML docs site, without Quarto.

`nbdev_docs` needs Quarto, which cannot be installed everywhere this project is built. This script
is the fallback used by `tools/build_docs.sh`: it executes copies of the notebooks (never the notebooks
themselves) with the same skip rules as `nbdev_test`, applies the display rules of nbdev's docs
processors, and writes one HTML page per notebook with a navigation sidebar.

Execution, as `nbdev_test`:
  - cells with any of settings.ini's `tst_flags` (`#| slow`, `#| cuda`, `#| notest`), `#| eval: false`,
    or calling `nbdev_export()` are not run (their source is still shown, with any saved output);
  - notebooks with `skip_exec: true` frontmatter, or a `.notest` file beside them, are not run at all;
  - each notebook runs with its own folder as working directory and the repo root on `sys.path`.
Widgets: outputs with both a widget view and a static `text/html` copy show the copy (no CDN script needed).
Display, as nbdev's docs processors:
  - cells with `#| hide`, `#| export`, `#| exporti`, `#| default_exp` or `#| include: false` are removed;
  - `#| echo: false` and `show_doc(...)` cells show only their output; `#| output: false` only its source;
  - directive lines (`#| ...`) and lines ending in `#| hide_line` are dropped from the shown source;
  - markdown headings ending in ` -` are removed.

Output (default `docs/`): `index.html` from `nbs/index.ipynb`, `<name>.html` for every other notebook,
`<subfolder>/<name>.html` for notebooks in subfolders (`tutorials/`). The output folder is generated:
it is replaced as a whole, and only when every notebook rendered.

Usage: python tools/render_docs.py [--out docs] [--n_workers 2] [--timeout 600] [--keep_executed DIR]
"""
import argparse, html, json, os, re, shutil, sys, tempfile, time, traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

SKIP_TAG = 'skip-execution'  # nbclient's default tag for cells it must not run
RM_CELL, RM_INPUT, RM_OUTPUT = 'docs-remove-cell', 'docs-remove-input', 'docs-remove-output'
HIDE_DIRS = {'export', 'exporti', 'hide', 'default_exp'}  # nbdev.processors.rm_export
_re_dir = re.compile(r'^\s*#\s*\|')                      # a `#| ...` directive line
_re_hide_line = re.compile(r'#\|\s*hide_line\s*$')
_re_show_doc = re.compile(r'^show_doc', re.MULTILINE)
_re_h1 = re.compile(r'^#\s+(.+?)\s*$', re.MULTILINE)


def page_title(nb, fallback):
    "Text of the notebook's first H1 (backticks and links flattened), else `fallback`."
    for cell in nb.cells:
        if cell.cell_type != 'markdown': continue
        m = _re_h1.search(cell.source)
        if m: return re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', m.group(1)).replace('`', '').strip()
    return fallback


def out_rel(nb_rel:Path)->Path:
    "Output path, relative to the docs folder, of the notebook at `nb_rel` (relative to nbs/)."
    return nb_rel.with_suffix('.html')


def _directives(cell):
    from nbdev.process import extract_directives
    return extract_directives(cell, remove=False) if cell.cell_type == 'code' else {}


def _is_false(direc, key): return direc.get(key, [''])[0].lower() == 'false'


def _shown_source(src):
    "`src` without its leading directive lines and without `#| hide_line` lines."
    lines = src.splitlines()
    i = 0
    while i < len(lines) and (_re_dir.match(lines[i]) or not lines[i].strip()): i += 1
    return '\n'.join(l for l in lines[i:] if not _re_hide_line.search(l)).strip('\n')


_re_link_attrs = re.compile(r'(<a\s[^>]*?)>([^<]*)</a>\{([^}]*)\}')  # in the HTML: `[text](url){attrs}` after markdown
_re_div_open = re.compile(r'^\s*:::+\s*\{([^}]*)\}\s*$')
_re_div_close = re.compile(r'^\s*:::+\s*$')


def _attrs(spec):
    """Pandoc attributes `{.cls key="v"}` as HTML attributes."""
    classes = re.findall(r'(?:^|\s)\.([\w-]+)', spec)
    kv = [(k, v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', spec) if k != 'class']
    out = ''.join(f' {k}="{html.escape(v)}"' for k, v in kv)
    return out + (f' class="{" ".join(classes)}"' if classes else '')


def _fenced_divs(src):
    "Quarto `::: {.callout-note}` blocks as blockquotes headed by their title; other fenced divs unwrapped."
    lines, out, stack = src.splitlines(), [], []
    for l in lines:
        m = _re_div_open.match(l)
        if m:
            kind = next(iter(re.findall(r'\.callout-([\w-]+)', m.group(1))), None)
            if kind:
                title = next(iter(re.findall(r'title="([^"]*)"', m.group(1))), kind.title())
                out.append('> ' * sum(stack) + f'> **{title}**'); out.append('> ' * (sum(stack) + 1))
            else: out.append('> ' * sum(stack))
            stack.append(bool(kind))
        elif _re_div_close.match(l) and stack:
            stack.pop()
            out.append('> ' * sum(stack))
        else: out.append(('> ' * sum(stack)) + l)
    return '\n'.join(out)


def quarto_md(src):
    "Quarto `:::` fenced divs, which plain markdown would show raw."
    return _fenced_divs(src) if ':::' in src else src


def link_attrs(page):
    "Pandoc link attributes (`[source](url){target=...}`, as show_doc writes) applied to the rendered links."
    return _re_link_attrs.sub(lambda m: f'{m.group(1)}{_attrs(m.group(3))}>{m.group(2)}</a>', page)


def _tag(cell, tag):
    tags = cell.metadata.setdefault('tags', [])
    if tag not in tags: tags.append(tag)


def mark_skips(nb, skip_flags):
    "Tag the code cells `nbdev_test` would not run; returns the directives of each cell."
    dirs = [_directives(c) for c in nb.cells]
    for cell, d in zip(nb.cells, dirs):
        if cell.cell_type != 'code': continue
        if _is_false(d, 'eval:') or (set(skip_flags) & d.keys()) or 'nbdev_export' + '(' in cell.source:
            _tag(cell, SKIP_TAG)
    return dirs


def mark_display(nb, dirs):
    "Tag cells and rewrite sources for display, following nbdev's docs processors."
    for cell, d in zip(nb.cells, dirs):
        if cell.cell_type == 'raw' and cell.source.lstrip().startswith('---'): _tag(cell, RM_CELL)  # frontmatter
        if cell.cell_type == 'markdown':
            src = cell.source.strip()
            if src.startswith('#') and src.endswith(' -'): _tag(cell, RM_CELL)
            cell.source = quarto_md(cell.source)
        if cell.cell_type != 'code': continue
        if (d.keys() & HIDE_DIRS) or _is_false(d, 'include:'): _tag(cell, RM_CELL); continue
        cell.source = _shown_source(cell.source)
        for o in cell.get('outputs', []):
            md = o.get('data', {}).get('text/markdown')
            if md: o['data']['text/markdown'] = quarto_md(md if isinstance(md, str) else ''.join(md))
        if _is_false(d, 'output:'): _tag(cell, RM_OUTPUT)
        outputs = cell.get('outputs', []) and RM_OUTPUT not in cell.metadata.get('tags', [])
        if not cell.source and not outputs: _tag(cell, RM_CELL)
        elif not cell.source or _is_false(d, 'echo:') or _re_show_doc.search(cell.source): _tag(cell, RM_INPUT)
        cell.metadata['tags'] = [t for t in cell.metadata.get('tags', []) if t != SKIP_TAG]


WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'


def static_widgets(nb):
    """Outputs that carry a static `text/html` copy of a widget (`ClusterExplorer(..., embed=True)`) show that copy:
    the widget view needs the html-manager script from a CDN, which offline readers and CI's browser cannot load.
    The saved widget state is dropped when no widget view is left, so pages load no remote script."""
    views = 0
    for cell in nb.cells:
        for o in cell.get('outputs', []):
            data = o.get('data', {})
            if WIDGET_VIEW in data and 'text/html' in data: del data[WIDGET_VIEW]
            views += WIDGET_VIEW in data
    if not views: nb.metadata.pop('widgets', None)


def _no_exec_reason(src:Path, nb):
    "Why the whole notebook at `src` is not executed, as `nbdev_test` decides, or None."
    if (src.parent/'.notest').exists(): return 'a .notest file sits beside it'
    if nb.metadata.get('kernelspec', {}).get('language', 'python') != 'python': return 'not a python notebook'
    from nbdev.process import NBProcessor
    from nbdev.frontmatter import FrontmatterProc
    fm = getattr(NBProcessor(src, procs=FrontmatterProc, process=True).nb, 'frontmatter_', {}) or {}
    if str(fm.get('skip_exec', False)).lower() in ('true', '1', 'yes', 'y', 'on'): return 'skip_exec frontmatter'
    return None


def render_one(src, work, nbs, timeout, skip_flags):
    "Execute a copy of notebook `src` in `work` and render it: (title, page html, seconds, why not executed or None)."
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    src, work, nbs = Path(src), Path(work), Path(nbs)
    rel = src.relative_to(nbs)
    copy = work/rel
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, copy)
    nb = nbformat.read(copy, as_version=4)
    title = page_title(nb, rel.stem)
    dirs = mark_skips(nb, skip_flags)
    reason = _no_exec_reason(src, nb)
    t0 = time.time()
    if reason is None:
        client = NotebookClient(nb, timeout=timeout, kernel_name='python3', allow_errors=False,
                                store_widget_state=True, skip_cells_with_tag=SKIP_TAG,
                                resources={'metadata': {'path': str(src.parent)}})  # cwd = the notebook's folder, as nbdev_test
        client.execute()
        nbformat.write(nb, copy)  # the executed copy, for --keep_executed
    mark_display(nb, dirs)
    static_widgets(nb)
    nb.metadata['title'] = title
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = {RM_CELL}
    c.TagRemovePreprocessor.remove_input_tags = {RM_INPUT}
    c.TagRemovePreprocessor.remove_all_outputs_tags = {RM_OUTPUT}
    exporter = HTMLExporter(config=c, template_name='lab', embed_images=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={'metadata': {'name': title, 'path': str(src.parent)}})
    body = link_attrs(body)
    return title, body, time.time() - t0, reason


def render_safe(*args):
    "`render_one`, with any failure turned into its message (exceptions from kernels do not always pickle)."
    try: return True, render_one(*args)
    except Exception as e: return False, _error_text(e) + ('' if str(e) else '\n' + traceback.format_exc())


# --- navigation ---------------------------------------------------------------------------------

NAV_CSS = """<style id="xdc-docs-nav">
:root { --nav-w: 17rem; }
body { margin: 0; }
nav.docs-nav { position: fixed; top: 0; left: 0; bottom: 0; width: var(--nav-w); overflow-y: auto; box-sizing: border-box;
  padding: 1.2rem 1rem; background: #f7f7f9; border-right: 1px solid #e3e3e8;
  font: 14px/1.45 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
nav.docs-nav .site { display: block; font-size: 1.2rem; font-weight: 600; color: #222; text-decoration: none; margin-bottom: .2rem; }
nav.docs-nav .desc { color: #666; font-size: 12px; margin: 0 0 1rem; }
nav.docs-nav h2 { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; color: #888; margin: 1rem 0 .3rem; }
nav.docs-nav ul { list-style: none; margin: 0; padding: 0; }
nav.docs-nav li a { display: block; padding: .2rem .5rem; border-radius: 4px; color: #2c5aa0; text-decoration: none; }
nav.docs-nav li a:hover { background: #e8edf5; }
nav.docs-nav li a[aria-current="page"] { background: #2c5aa0; color: #fff; }
.jp-InputArea-editor, .jp-OutputArea-output { overflow-x: auto; }
body > main, body > .docs-page { margin-left: var(--nav-w); padding: 1rem 2.5rem 3rem; max-width: 60rem; }
.docs-page ul.pages li { margin: .3rem 0; }
@media (max-width: 800px) {
  nav.docs-nav { position: static; width: auto; border-right: 0; border-bottom: 1px solid #e3e3e8; }
  .jp-InputArea-editor, .jp-OutputArea-output { overflow-x: auto; }
body > main, body > .docs-page { margin-left: 0; padding: 1rem; }
}
</style>
"""


def _section(rel:Path):
    return '' if len(rel.parts) == 1 else ' / '.join(p.replace('_', ' ').title() for p in rel.parts[:-1])


def nav_html(pages, current, site_title, description):
    "Sidebar linking every page in `pages` ({out_rel: title}), relative to the page `current`."
    here = Path(current).parent
    def link(rel, title):
        href = Path(os.path.relpath(rel, here)).as_posix()
        cur = ' aria-current="page"' if rel == current else ''
        return f'<li><a href="{html.escape(href)}"{cur}>{html.escape(title)}</a></li>'
    home = Path(os.path.relpath('index.html', here)).as_posix()
    parts = [f'<nav class="docs-nav" aria-label="Pages"><a class="site" href="{home}">{html.escape(site_title)}</a>',
             f'<p class="desc">{html.escape(description)}</p>']
    order = sorted(pages, key=lambda r: (len(r.parts) > 1, r.parts[:-1], r.name != 'index.html', r.name))
    sec = None
    for rel in order:
        s = _section(rel)
        if s != sec:
            if sec is not None: parts.append('</ul>')
            parts.append(f'<h2>{html.escape(s or "Reference")}</h2><ul>')
            sec = s
        parts.append(link(rel, 'Home' if rel == Path('index.html') else pages[rel]))
    if sec is not None: parts.append('</ul>')
    parts.append('</nav>')
    return '\n'.join(parts)


def inject_nav(page_html, nav):
    "Put the nav CSS at the end of <head> and the nav first in <body>."
    page_html = page_html.replace('</head>', NAV_CSS + '</head>', 1)
    return re.sub(r'(<body[^>]*>)', lambda m: m.group(1) + '\n' + nav, page_html, count=1)


def fallback_index(pages, site_title, description):
    "A home page listing every page, for projects without nbs/index.ipynb."
    items = '\n'.join(f'<li><a href="{html.escape(r.as_posix())}">{html.escape(t)}</a></li>'
                      for r, t in sorted(pages.items(), key=lambda o: o[0].as_posix()) if r != Path('index.html'))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(site_title)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>\n<body>\n'
            f'<div class="docs-page"><h1>{html.escape(site_title)}</h1><p>{html.escape(description)}</p>'
            f'<ul class="pages">\n{items}\n</ul></div>\n</body></html>\n')


# --- driver -------------------------------------------------------------------------------------

def _kernel_dir(tmp:Path)->Path:
    "A `python3` kernelspec for this interpreter, so notebooks run in this environment whatever else is registered."
    kd = tmp/'jupyter'/'kernels'/'python3'
    kd.mkdir(parents=True)
    (kd/'kernel.json').write_text(json.dumps({
        'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}',
                 '--IPKernelApp.log_level=ERROR'],  # not the TCP-transport warning, once per notebook
        'display_name': 'Python 3 (xdc_fast docs)', 'language': 'python', 'metadata': {'debugger': False}}))
    return tmp/'jupyter'


def _error_text(e):
    msg = str(e) or repr(e)
    return re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', msg)  # tracebacks come with ANSI colours


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=None, help='output folder (default: docs/ in the repo root)')
    ap.add_argument('--n_workers', type=int, default=min(2, os.cpu_count() or 1), help='notebooks run at once')
    ap.add_argument('--timeout', type=int, default=600, help='seconds allowed per cell')
    ap.add_argument('--keep_executed', default=None, help='also keep the executed notebook copies in this folder')
    args = ap.parse_args()

    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    cfg = get_config()
    root, nbs = Path(cfg.config_path), Path(cfg.nbs_path)
    out = Path(args.out).resolve() if args.out else root/'docs'
    skip_flags = cfg.get('tst_flags', '').split()
    files = sorted(nbglob(nbs, as_path=True), key=lambda p: p.relative_to(nbs).as_posix())
    if not files: sys.exit(f'render_docs: no notebooks found under {nbs}')
    site_title, description = cfg.get('title', cfg.lib_name), cfg.get('description', '')

    tmp = Path(tempfile.mkdtemp(prefix='xdc_docs_'))
    os.environ['JUPYTER_PATH'] = os.pathsep.join([str(_kernel_dir(tmp))] + [p for p in [os.environ.get('JUPYTER_PATH')] if p])
    os.environ['PYTHONPATH'] = os.pathsep.join([str(root)] + [p for p in [os.environ.get('PYTHONPATH')] if p])  # as nbdev_test's basepath
    os.environ.setdefault('MPLBACKEND', 'module://matplotlib_inline.backend_inline')
    work = tmp/'nbs'
    print(f'render_docs: {len(files)} notebooks from {nbs.relative_to(root)}/ -> {out}, '
          f'{args.n_workers} at a time, skipping cells flagged {" ".join(skip_flags) or "(none)"} or eval: false', flush=True)

    t0, rendered, failed = time.time(), {}, {}
    with ProcessPoolExecutor(max_workers=max(1, args.n_workers), mp_context=get_context('spawn')) as ex:
        futs = {ex.submit(render_safe, str(f), str(work), str(nbs), args.timeout, skip_flags): f for f in files}
        for fut in as_completed(futs):
            rel = futs[fut].relative_to(nbs)
            ok, res = fut.result()
            if not ok:
                failed[rel] = res
                print(f'  FAILED {rel}', flush=True)
                continue
            title, body, secs, reason = res
            rendered[out_rel(rel)] = (title, body)
            print(f'  ok     {rel}  ({secs:.1f}s{", not executed: " + reason if reason else ""})', flush=True)

    if args.keep_executed:
        shutil.copytree(work, args.keep_executed, dirs_exist_ok=True)
    if failed:
        shutil.rmtree(tmp, ignore_errors=True)
        for rel, err in sorted(failed.items()):
            sys.stderr.write(f'\n===== {rel} failed to execute =====\n{err}\n')
        sys.stderr.write(f'\nrender_docs: {len(failed)} notebook(s) failed to execute: '
                         f'{", ".join(str(nbs.relative_to(root)/r) for r in sorted(failed))}; {out} left unchanged\n')
        sys.exit(1)

    pages = {rel: t for rel, (t, _) in rendered.items()}
    if Path('index.html') not in pages:
        print(f'render_docs: warning: no {nbs.relative_to(root)}/index.ipynb; writing a generated index.html', file=sys.stderr)
        pages[Path('index.html')] = 'Home'
        rendered[Path('index.html')] = ('Home', fallback_index(pages, site_title, description))

    stage = tmp/'site'
    for rel, (_, body) in rendered.items():
        dest = stage/rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(inject_nav(body, nav_html(pages, rel, site_title, description)), encoding='utf-8')
    (stage/'.nojekyll').touch()  # GitHub Pages: serve files as they are
    if out.exists(): shutil.rmtree(out)
    shutil.copytree(stage, out)
    shutil.rmtree(tmp, ignore_errors=True)
    size = sum(p.stat().st_size for p in out.rglob('*') if p.is_file())
    print(f'render_docs: wrote {len(rendered)} pages ({size/1e6:.1f} MB) to {out} in {time.time()-t0:.0f}s')


if __name__ == '__main__': main()
