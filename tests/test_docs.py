"""The documentation a newcomer reads: a short README whose links reach the docs, a site whose every page is in its
navigation, and a configuration reference equal to the schemas it is generated from."""

import re
from pathlib import Path

import yaml

from audiovae.reference import render

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").rglob("*.md"))


def links(path: Path) -> list[str]:
    """The relative link targets of a markdown file (outside code blocks), anchors dropped."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return [
        t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"\w+:", t) and t.split("#")[0]
    ]


def test_the_configuration_reference_is_the_schemas_own():
    assert (ROOT / "docs" / "config-reference.md").read_text() == render(), (
        "regenerate it: python -m audiovae.reference > docs/config-reference.md"
    )


def test_the_reference_lists_every_key_with_its_range():
    page = render()
    rows = (
        "| `data.shards` | str or null | `null` |",
        "| `data.batch_size` | int or null | `null` | in [1, 256] |",
        "| `data.pad` | str | `silence` | `silence` \\| `repeat` \\| `log_mel_zeros` |",
        "| `optim.lr` | float | `0.001` | > 0 |",
    )
    for row in rows:
        assert row in page, row


def test_the_readme_is_short_and_every_link_of_it_and_the_docs_resolves():
    readme = ROOT / "README.md"
    assert len(readme.read_bytes()) <= 15_000
    for path in [readme, *PAGES]:
        for target in links(path):
            assert (path.parent / target).exists(), f"{path.name}: {target}"
    one_click = {"docs/data.md", "docs/training.md", "docs/tracking.md", "docs/metrics/index.md"}
    assert one_click | {"docs/extending/metric.md", "docs/getting-started.md"} <= set(links(readme))


def test_every_docs_page_is_in_the_sites_navigation():
    def pages(entries) -> set[str]:
        out = set()
        for entry in entries:
            for value in entry.values():
                out |= pages(value) if isinstance(value, list) else {value}
        return out

    listed = pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    assert listed == {str(p.relative_to(ROOT / "docs")) for p in PAGES} and len(listed) >= 8


def test_every_public_function_and_class_of_a_module_has_a_docstring():
    import ast

    missing = []
    for path in sorted((ROOT / "audiovae").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            public = isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")
            if public and not ast.get_docstring(node):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not missing, missing


def test_every_public_method_and_property_has_a_docstring():
    """Methods of the package's public classes: their own docstring, or the one of the base method they override
    (`inspect.getdoc`, as the API pages show it)."""
    import importlib
    import inspect
    import pkgutil

    import audiovae

    missing, seen = [], 0
    for info in pkgutil.walk_packages(audiovae.__path__, "audiovae."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for class_name, cls in vars(module).items():
            if class_name.startswith("_") or not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            for name, attr in vars(cls).items():
                function = attr.fget if isinstance(attr, property) else getattr(attr, "__func__", attr)
                if name.startswith("_") or not inspect.isfunction(function):
                    continue
                seen += 1
                if not inspect.getdoc(attr if isinstance(attr, property) else getattr(cls, name)):
                    missing.append(f"{module.__name__}.{class_name}.{name}")
    assert seen > 250 and not missing, missing


def test_every_metric_has_one_row_on_its_family_page_that_matches_its_class():
    """The metric pages say what the code does: each registered metric is a row of exactly one family page, whose
    unit, direction and Δ convention are the class's own."""
    from audiovae.metrics.registry import METRICS, PROMPT_METRICS
    from audiovae.metrics.sets import SET_METRICS

    rows = {}
    for page in sorted((ROOT / "docs" / "metrics").glob("*.md")):
        for line in page.read_text().splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            if line.startswith("| `") and len(cells) == 6:
                name = cells[0].strip("`")
                assert name not in rows, f"{name} on {page.name} and {rows[name][0]}"
                rows[name] = (page.name, cells)
    classes = {name: spec.cls for name, spec in {**METRICS, **PROMPT_METRICS}.items()}
    assert set(rows) == {*classes, *SET_METRICS}
    for name, (page, (_, unit, better, _definition, _undefined, delta)) in rows.items():
        cls = classes.get(name) or SET_METRICS[name]
        assert unit == (cls.unit or "—"), f"{page}: {name}'s unit"
        expected = f"target {cls.target:g} {cls.unit}".strip() if cls.direction == "target" else cls.direction
        assert better == expected, f"{page}: {name}'s direction"
        kind = getattr(cls, "delta_kind", "absolute")
        want = {"absolute": "enhanced − base", "percent": "percent change"}[kind]
        assert delta.startswith("change of d" if cls.direction == "target" else want), f"{page}: {name}'s Δ"
