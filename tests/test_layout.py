"""The way through the house: which package may use which.

The base (config.school: the school's configuration, roles, people, notices and notifications)
and the pixel package use nothing of ours. consent and connectors use only the base and pixels;
moderation uses them all. Read from the source itself (the ast of every module), so an import
hidden inside a function counts as much as one at the top.
"""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "moderation", "consent", "connectors", "pixels")
BASE = "config.school"
# The project's wiring (settings, URLs, WSGI) sits above everything and may import anything.
WIRING = "config"

# What each package may use. The base and pixels use nothing of ours.
ALLOWED = {
    BASE: set(),
    "pixels": set(),
    "consent": {BASE, "pixels"},
    "connectors": {BASE, "pixels"},
    "moderation": {BASE, "pixels", "consent", "connectors"},
}


def package_of(module: str) -> str:
    return BASE if module == BASE or module.startswith(BASE + ".") else module.split(".")[0]


def modules():
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts or "tests" in parts or parts[-1] == "conftest":
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def imports():
    """{module: {module it imports}} for our own modules."""
    found, known = defaultdict(set), {name for name, _ in modules()}
    for name, path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # "from package import module" uses that module; "from module import name", the module.
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                           for alias in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in PACKAGES:
                    found[name].add(target)
    return found


def arrows():
    """Every (module, imported module) that crosses from one package into another."""
    crossing, known = set(), {name for name, _ in modules()}
    for module, targets in imports().items():
        for target in targets:
            if package_of(module) != package_of(target):
                crossing.add((module, _module_part(target, known)))
    return crossing


def _module_part(target: str, known: set) -> str:
    """"moderation.models.Channel" is the module moderation.models."""
    while target not in known and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def test_the_base_and_the_pixel_package_use_nothing_of_ours():
    used = {(m, t) for m, t in arrows() if package_of(m) in (BASE, "pixels") and package_of(t) != WIRING}
    assert used == set()


def test_each_package_uses_only_what_is_below_it():
    wrong = {
        (module, target) for module, target in arrows()
        if package_of(module) in ALLOWED and package_of(target) not in ALLOWED[package_of(module)]
    }
    assert wrong == set(), "These imports run the wrong way: " + ", ".join(f"{m} -> {t}" for m, t in sorted(wrong))


def test_no_two_packages_use_each_other():
    between = {(package_of(m), package_of(t)) for m, t in arrows() if WIRING not in (package_of(m), package_of(t))}
    cycles = {(a, b) for a, b in between if (b, a) in between}
    assert cycles == set()


def imports_inside_functions():
    """(module, imported module) for every import of our own code written inside a function, other
    than in an app's ready() (where Django has its apps import what needs the models loaded)."""
    found = set()
    for name, path in modules():
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if function.name == "ready" and path.name == "apps.py":
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add((name, node.module))
                elif isinstance(node, ast.Import):
                    found.update((name, alias.name) for alias in node.names)
    return {(m, t) for m, t in found if t.split(".")[0] in PACKAGES}


def test_no_function_imports_our_own_code_to_dodge_a_circle():
    assert imports_inside_functions() == set()


def circles():
    """Every group of modules that import one another round a circle (Tarjan's strongly connected
    components)."""
    known = {name for name, _ in modules()}
    graph = {module: {_module_part(t, known) for t in targets} - {module} for module, targets in imports().items()}
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while not group or v not in group:
                group.add(stack.pop())
            on_stack.difference_update(group)
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_modules_import_one_another_round_a_circle():
    assert circles() == []


def test_every_import_of_our_own_code_names_it_in_full():
    """A relative import ("from ..drafts import services") would slip past the tests above."""
    relative = sorted(
        f"{name}:{node.lineno}" for name, path in modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.ImportFrom) and node.level
    )
    assert relative == []


def test_moderation_is_split_by_concern_with_nothing_left_in_one_hall():
    """What happens to a draft is found in one folder each: its models, services and views together."""
    folder = ROOT / "moderation"
    loose = sorted(p.name for p in folder.glob("*.py"))
    # The app's wiring only: what Django looks for by name, the home page and the URL list.
    assert loose == ["__init__.py", "apps.py", "context_processors.py", "models.py", "urls.py", "views.py"]
    # Each concern keeps its models and pages together, beside the services they call (named
    # services.py, or by what they do: aftercare/concerns.py, aftercare/monitoring.py).
    for concern in ("drafts", "approval", "publishing", "aftercare", "reviews", "accounts"):
        assert {"models.py", "views.py"} <= {p.name for p in (folder / concern).glob("*.py")}, concern
    assert (folder / "gates" / "pipeline.py").exists() and (folder / "gates" / "models.py").exists()
