"""Sphinx configuration of the brainenc documentation.

Build with ``docs/build.sh`` (or ``python -m sphinx -b html -W --keep-going -n
docs docs/_build/html``). The build never touches the network: intersphinx is
off, so references to other projects (scikit-learn, NumPy, joblib, ...) are
rendered as plain text and left out of the nitpicky check (see
``nitpick_ignore_regex``), while every reference to a brainenc object is
checked and a broken one fails the build.
"""

import importlib
import os
import re
import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))  # _sorting.py
sys.path.insert(0, str(DOCS.parent / "src"))  # the brainenc of this checkout

import brainenc  # noqa: E402

project = "brainenc"
author = "The brainenc developers"
copyright = "2026, The brainenc developers"
release = brainenc.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "literal"  # `x` renders as code, never as a broken reference

# -- autodoc / autosummary ---------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # types come from the numpydoc docstrings

# -- numpydoc ----------------------------------------------------------------
numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False
# Parameter types stay plain text ("array-like of shape (n_samples,)"): they
# are phrases, not references, and linking their words would only add noise.
# Cross-references in descriptions and See Also sections are checked.
numpydoc_xref_param_type = False

# -- nitpicky: what is ignored, and why ---------------------------------------
# Other projects' objects: there is no intersphinx (no network at build time),
# so they cannot be resolved here; they are not brainenc's broken references.
_EXTERNAL = (
    r"(sklearn|numpy|np|scipy|joblib|himalaya|torch|skorch|dask|distributed"
    r"|matplotlib|nitime|pandas|mne|nibabel|nilearn|tqdm)(\..*)?"
)
nitpick_ignore_regex = [
    ("py:.*", _EXTERNAL),
    # Python's own objects, which numpydoc links as python:int, python:dict...
    ("py:.*", r"python:.*"),
    ("py:.*", r"(int|float|str|bool|dict|list|tuple|object|callable|None|True|False)"),
]

# -- sphinx-gallery ------------------------------------------------------------
# Every script in examples/ runs at build time (plot_gallery=0 skips running:
# ``docs/build.sh --no-plot``). A failing example fails the build.
sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "_sorting.ExampleOrder",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "doc_module": ("brainenc",),
    "backreferences_dir": "generated/backreferences",
    "show_memory": False,
    "min_reported_time": 1,
    "write_computation_times": False,
}

# -- HTML ----------------------------------------------------------------------
try:
    import pydata_sphinx_theme  # noqa: F401
except ImportError:  # pragma: no cover - the docs extra installs it
    html_theme = "alabaster"
else:
    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_prev_next": False,
        "footer_start": ["copyright"],
        "footer_end": [],
    }
html_title = f"brainenc {release}"
html_static_path = ["_static"]
html_show_sourcelink = False


# -- docstring helpers ---------------------------------------------------------
# scikit-learn-style shapes name fitted dimensions with a trailing underscore,
# "(n_features_in_,)", which reStructuredText reads as a hyperlink reference
# ("Unknown target name"). Escape that underscore outside literals and
# doctests.
_SHAPE_NAME = re.compile(r"(?<![\w\\.])(n_\w*?)_(?=[\s,)*\]]|$)")
_LITERAL = re.compile(r"(``.*?``|`[^`]*`)")


def _escape_shape_names(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if line.lstrip().startswith((">>>", "...")):
            continue  # doctest lines are literal
        parts = _LITERAL.split(line)
        parts[::2] = [_SHAPE_NAME.sub(r"\1\\_", part) for part in parts[::2]]
        lines[i] = "".join(parts)


# A public object is documented once, under the name users import
# (``brainenc.DelayedRidge``), but docstrings may name it by its defining
# module (``brainenc.linear.DelayedRidge``) or, in a See Also section, by its
# bare name relative to that module (``check_run_cv``). Resolve such a
# reference to the documented object when it is the same Python object; a
# name that matches no documented brainenc object still fails the build.
_MODULES = [
    "brainenc",
    "brainenc.analysis",
    "brainenc.datasets",
    "brainenc.delays",
    "brainenc.ensemble",
    "brainenc.io",
    "brainenc.linear",
    "brainenc.metrics",
    "brainenc.model_selection",
    "brainenc.plotting",
    "brainenc.stacking",
    "brainenc.neural",
]


def _lookup(path):
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _key(obj):
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not (isinstance(module, str) and isinstance(qualname, str)):
        return None
    return f"{module}.{qualname}"


def _documented(env):
    cache = getattr(env, "_brainenc_documented", None)
    if cache is None:
        cache = {}
        for name, entry in env.get_domain("py").objects.items():
            if not name.startswith("brainenc.") or entry.objtype == "module":
                continue
            key = _key(_lookup(name))
            if key is not None:
                cache.setdefault(key, name)
        env._brainenc_documented = cache
    return cache


def _resolve_alias(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    context = [node.get("py:module")]
    if node.get("py:class"):
        context.insert(0, f"{node.get('py:module')}.{node.get('py:class')}")
    candidates = [target] + [f"{m}.{target}" for m in context + _MODULES if m]
    documented = _documented(env)
    for path in candidates:
        key = _key(_lookup(path))
        if key in documented:
            return env.get_domain("py").resolve_xref(
                env,
                node["refdoc"],
                app.builder,
                node["reftype"],
                documented[key],
                node,
                contnode,
            )
    return None


def setup(app):
    app.connect("autodoc-process-docstring", _escape_shape_names)
    app.connect("missing-reference", _resolve_alias)


# Building the docs imports torch (neural API pages and examples) and runs
# the examples: keep third-party chatter out of the log.
warnings.filterwarnings("ignore", message=".*Matplotlib is currently using agg.*")
os.environ.setdefault("MPLBACKEND", "Agg")
