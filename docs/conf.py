"""Sphinx configuration of the documentation site (``make docs``; see development.md, "The documentation").

Why these parts: Sphinx reads the Markdown pages (MyST) and the docstrings (autodoc; they already use
Sphinx roles), and myst-nb executes ``examples/*.ipynb`` against a demo cluster started here, so each
tutorial is published with its outputs — the terminals as their static screens. Furo is a standard theme
whose fonts, icons and scripts all ship inside the wheel, so the site works from disk with no network.

The build is strict (``-W`` in the Makefile): a warning fails it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

from sphinx.util.docutils import SphinxDirective

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

project = "k8sterm_widget"
author = "the k8sterm_widget authors"
copyright = "the k8sterm_widget authors"
release = version = __import__("k8sterm_widget").__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

# The source directory is the repository (`sphinx-build -c docs . docs/_build/html`), so that the pages in
# docs/ and the tutorials in examples/ link to each other with the same relative paths that work on GitHub.
include_patterns = ["docs/**", "examples/**"]
exclude_patterns = ["docs/_build", "**/.ipynb_checkpoints", ".venv", "node_modules", "**/README.md"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "docs/index"
html_extra_path = ["_extra"]  # index.html at the top: a redirect to docs/index.html

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3  # [text](page.md#a-heading) works, as on GitHub

# Tutorials: executed at every build, in a temporary directory (they upload and download files), failing the
# build when a cell fails (each tutorial asserts its own steps). The kernel finds the demo cluster through
# KUBECONFIG, exactly as under `make demo`.
nb_execution_mode = os.environ.get("K8STERM_DOCS_EXECUTE", "force")
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = True
nb_merge_streams = True
# No widget manager from a CDN: the page shows each output's static face (text/html) instead of the widget.
nb_ipywidgets_js: dict = {}
nb_mime_priority_overrides = [
    ("html", "application/vnd.jupyter.widget-view+json", None),
    ("html", "application/vnd.jupyter.widget-state+json", None),
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = "k8sterm_widget"
html_static_path = ["_static"]
html_css_files = ["k8sterm.css"]
html_show_sourcelink = False
html_copy_source = False
pygments_style = "friendly"

# Furo bundles everything it uses; these keep Sphinx itself from linking any outside host.
html_theme_options = {"top_of_page_buttons": []}


# ---------------------------------------------------------------------------------------------- pages


# The pages listed by hand in index.md's toctrees; any other docs/*.md (a page someone added) is appended to
# the "More" toctree by _index_lists_every_page, so a new page can never break the build as an orphan.
def _listed_in_index(text: str) -> set[str]:
    listed: set[str] = set()
    for block in re.findall(r"```\{toctree\}(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                listed.add(line.removesuffix(".md"))
    return listed


def _index_lists_every_page(app, docname: str, source: list[str]) -> None:
    if docname != root_doc:
        return
    listed = _listed_in_index(source[0])
    extra = sorted(
        p.stem for p in DOCS.glob("*.md") if p.stem not in listed and p.stem not in ("index", "README")
    )
    if extra:
        entries = "\n".join(extra)
        source[0] += f"\n\n```{{toctree}}\n:caption: More\n:maxdepth: 1\n\n{entries}\n```\n"


# ---------------------------------------------------------------------------------------------- demo cluster

_cluster = None


def _start_demo_cluster(app) -> None:
    """Executing the tutorials needs a cluster: start the demo cluster for the build, as `make demo` does."""
    global _cluster
    if app.config.nb_execution_mode == "off" or os.environ.get("K8STERM_DOCS_KUBECONFIG"):
        if os.environ.get("K8STERM_DOCS_KUBECONFIG"):  # an already running cluster (or a real one)
            os.environ["KUBECONFIG"] = os.environ["K8STERM_DOCS_KUBECONFIG"]
        return
    from k8sterm_widget.demo.cluster import DemoCluster

    _cluster = DemoCluster().start()  # its own temporary state, removed by stop()
    os.environ["KUBECONFIG"] = _cluster.kubeconfig  # the kernels myst-nb starts inherit it


def _stop_demo_cluster(app, exception) -> None:
    global _cluster
    if _cluster is not None:
        _cluster.stop()
        _cluster = None


PLAYER = "k8sterm_widget.recording.player.Player"
PAGE_PLAYER = ROOT / "k8sterm_widget" / "static" / "page-player.js"


def _casts(state: dict) -> dict:
    """``{uid: traits}`` of every cast player in a notebook's widget state (the cast as base64)."""
    casts = {}
    for model in state.get("state", {}).values():
        traits = model.get("state", {})
        if traits.get("_anywidget_id") != PLAYER or not traits.get("_uid"):
            continue
        cast = next((b["data"] for b in model.get("buffers", []) if b.get("path") == ["cast"]), "")
        keep = ("title", "note", "speed", "autoplay", "idle_time_limit", "font_size")
        casts[traits["_uid"]] = {"cast": cast, **{k: traits[k] for k in keep if k in traits}}
    return casts


def _players_not_widget_state(app, env) -> None:
    """Pages get their cast players, not the widget state myst-nb would embed.

    The state is there for a widget manager (from a CDN) that this site does not load, and would hold the
    whole front end once per terminal; the outputs' static faces are what a page shows. What a cast player
    needs of it — the recording and its options — goes in a JSON block, and the package's own player
    (``page-player.js``, one classic script with no outside resource) is mounted over each player's face.
    """
    for data in getattr(env, "nb_metadata", {}).values():
        js_files = data.get("js_files", {})
        state = js_files.pop("ipywidgets_state", None)
        if state is None:
            continue
        casts = _casts(json.loads(state[1]["body"]))
        if casts:
            body = json.dumps(casts).replace("</", "<\\/")
            js_files["k8sterm_casts"] = (None, {"type": "application/x-k8sterm-casts", "body": body})
            js_files["k8sterm_player"] = ("k8sterm-page-player.js", {})


def _copy_page_player(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copyfile(PAGE_PLAYER, Path(app.outdir) / "_static" / "k8sterm-page-player.js")


class ImageCatalogue(SphinxDirective):
    """``{k8sterm-images}``: the demo cluster's image catalogue as a table, read from the code
    (``k8sterm_widget.demo.runtime.images.IMAGES``), so the page cannot drift from what the runtime runs."""

    def run(self) -> list:
        from k8sterm_widget.demo.runtime.images import IMAGES

        rows = []
        for image in IMAGES:
            userland = getattr(image, "userland", None)
            # the whole host userland: what this machine has (the demo runs the host's programs)
            has = shutil.which if userland is None else (lambda name, u=userland: name in u)
            shells = [name for name in ("bash", "ash", "sh") if has(name)]
            if userland is None:
                programs = "the host's whole userland"
            elif not userland:
                programs = "none (only its app)"
            else:
                programs = f"{len(userland)} programs"
            process = " ".join([*getattr(image, "entrypoint", ()), *getattr(image, "cmd", ())])
            aliases = ", ".join(f"`{a}`" for a in getattr(image, "aliases", ())[:3])
            shell_list = ", ".join(shells) or "none"
            rows.append([f"`{image.name}`", aliases or "—", shell_list, programs, f"`{process}`"])
        header = ["image", "also pulled as", "shells", "programs", "main process"]
        lines = ["| " + " | ".join(row) + " |" for row in [header, ["---"] * len(header), *rows]]
        return self.parse_text_to_nodes("\n".join(lines))  # Markdown: the pages are MyST


def setup(app):
    app.add_directive("k8sterm-images", ImageCatalogue)
    app.connect("env-updated", _players_not_widget_state)
    app.connect("build-finished", _copy_page_player)
    app.connect("source-read", _index_lists_every_page)
    app.connect("builder-inited", _start_demo_cluster)
    app.connect("build-finished", _stop_demo_cluster)
    return {"parallel_read_safe": False}
