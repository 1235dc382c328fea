"""Write README.md from nbs/index.ipynb without Quarto (which `nbdev_readme` needs).

Markdown cells are copied (images beside the notebooks, `images/...`, linked as `nbs/images/...` from the repository
root); code cells become ```python blocks; `#| hide` cells are skipped and `#|` directive lines dropped. Run `python tools/make_readme.py`; CI checks README.md is in sync with `--check`."""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def render(nb_path):
    cells, out = json.loads(Path(nb_path).read_text())['cells'], []
    for c in cells:
        src = ''.join(c['source']).rstrip()
        lines = src.splitlines()
        if c['cell_type'] == 'markdown': out.append(src.replace('](images/', '](nbs/images/'))
        elif c['cell_type'] == 'code':
            if any(l.strip() in ('#| hide', '#|hide') for l in lines): continue
            code = '\n'.join(l for l in lines if not l.lstrip().startswith('#|')).strip()
            if code: out.append(f"```python\n{code}\n```")
    return '\n\n'.join(out) + '\n'

if __name__ == '__main__':
    text, readme = render(root/'nbs'/'index.ipynb'), root/'README.md'
    if '--check' in sys.argv:
        if readme.read_text() != text: sys.exit("README.md is out of sync with nbs/index.ipynb: run python tools/make_readme.py and commit")
    else: readme.write_text(text)
