"""The package builds without setuptools warnings, and a built wheel carries everything it reads.

Both builds call setuptools' PEP 517 backend (what pip runs) in a subprocess with every warning
made an error: pip >= 25 prints the backend's warnings as ``BuildBackendWarning`` on every
``pip install``, so a warning here is one a new user would see.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DATA = sorted(
    str(path.relative_to(ROOT))
    for path in (ROOT / "rag").rglob("*")
    if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
)


def build(kind: str, out: Path) -> Path:
    """``build_wheel`` or ``build_editable`` of this checkout into ``out``; fails on any warning."""
    code = f"import sys; from setuptools import build_meta; print(build_meta.build_{kind}(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out / done.stdout.strip().splitlines()[-1]


def clean_environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(("RAG_", "PYTHON"))}


def test_an_editable_install_is_a_plain_path_entry_without_warnings(tmp_path: Path) -> None:
    wheel = build("editable", tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        (pth,) = [name for name in archive.namelist() if name.endswith(".pth")]
        assert archive.read(pth).decode().strip() == str(ROOT)
        assert not [name for name in archive.namelist() if "finder" in name]


def test_a_wheel_carries_the_package_data_and_runs_from_it(tmp_path: Path) -> None:
    assert "rag/answering/model.json" in PACKAGE_DATA and "rag/http/ui/static/app.js" in PACKAGE_DATA
    assert "rag/answering/span_head.npz" in PACKAGE_DATA
    wheel = build("wheel", tmp_path)
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(installed)  # a pure-Python wheel installs by unpacking
    assert {name.split("/")[0] for name in names} == {"rag", "rag-0.1.0.dist-info"}
    assert [name for name in PACKAGE_DATA if name not in names] == []
    # From outside the checkout, with only the unpacked wheel on the path: the reader model, the
    # templates, the static files and the default settings are read from the installed package.
    check = """
import sys
from pathlib import Path
import jinja2
import rag
from rag.answering.model import load_model
from rag.config import load_settings
from rag.http.web import UI_DIR
assert Path(rag.__file__).is_relative_to(sys.argv[1]), rag.__file__
assert load_model().abstention is not None
templates = jinja2.Environment(loader=jinja2.FileSystemLoader(UI_DIR / "templates"), autoescape=True)
assert "/static/app.js" in templates.get_template("index.html").render(version="x")
assert (UI_DIR / "static" / "style.css").read_text(encoding="utf-8")
assert load_settings().retrieval.max_top_k >= 1
print("ok")
"""
    env = {**clean_environment(), "PYTHONPATH": str(installed)}
    command = [sys.executable, "-c", check, str(installed)]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
