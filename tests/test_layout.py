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
    found = defaultdict(set)
    for name, path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
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
    """(module, imported module) for every import written inside a function."""
    found = set()
    for name, path in modules():
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add((name, node.module))
                elif isinstance(node, ast.Import):
                    found.update((name, alias.name) for alias in node.names)
    return {(m, t) for m, t in found if t.split(".")[0] in PACKAGES}


def test_no_import_inside_a_function_reaches_another_package():
    # Inside a package some still do (the gates and the services use each other until
    # moderation is split by concern); across packages there is nothing to dodge.
    crossing = {(m, t) for m, t in imports_inside_functions() if package_of(m) != package_of(t)}
    assert crossing == set()
