"""Shared checks that a package's public surface is what its ``__all__`` says.

STYLE.md habit 5: ``__all__`` lists exactly the public names, and every
exception a package raises is exported (PyJWT once raised exceptions it never
exported).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import types
from pathlib import Path

import meshsec.errors


def public_names(module: types.ModuleType) -> set[str]:
    """Names a user can reach that are defined by meshsec, not imported tools."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        owner = getattr(value, "__module__", None)
        if owner is None or not str(owner).startswith("meshsec"):
            # Constants and type aliases count when the module defines them.
            if name in _assigned_names(module):
                names.add(name)
            continue
        names.add(name)
    return names


def _assigned_names(module: types.ModuleType) -> set[str]:
    source = inspect.getsource(module)
    tree = ast.parse(source)
    found = set()
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                found.add(target.id)
    found.discard("__all__")
    return found


def assert_all_is_public(module: types.ModuleType) -> None:
    declared = set(module.__all__)
    assert len(declared) == len(module.__all__), "duplicate names in __all__"
    missing = [n for n in declared if not hasattr(module, n)]
    assert not missing, f"__all__ names missing from {module.__name__}: {missing}"
    undeclared = public_names(module) - declared
    assert not undeclared, f"public but not in __all__ of {module.__name__}: {undeclared}"


def raised_exception_names(package: types.ModuleType) -> set[str]:
    """Names of the exception classes a package's source raises."""
    paths = [Path(package.__file__ or "")]
    if hasattr(package, "__path__"):
        paths = list(Path(package.__path__[0]).rglob("*.py"))
    names: set[str] = set()
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(target, ast.Name):
                    names.add(target.id)
                elif isinstance(target, ast.Attribute):
                    names.add(target.attr)
    return names


def assert_raised_errors_exported(package: types.ModuleType) -> None:
    """Every MeshsecError subclass the package raises is in some public __all__."""
    exported: set[str] = set(meshsec.errors.__all__)
    for info in pkgutil.walk_packages(
        importlib.import_module("meshsec").__path__, prefix="meshsec."
    ):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        if info.name.startswith("meshsec.cli"):
            continue
        mod = importlib.import_module(info.name)
        exported.update(getattr(mod, "__all__", ()))
    for name in raised_exception_names(package):
        cls = _find_class(package, name)
        if cls is None or not issubclass(cls, meshsec.errors.MeshsecError):
            continue
        assert name in exported, f"{package.__name__} raises {name} but no package exports it"


def _find_class(package: types.ModuleType, name: str) -> type | None:
    modules = [package]
    if hasattr(package, "__path__"):
        modules += [
            importlib.import_module(info.name)
            for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + ".")
        ]
    for mod in modules:
        value = getattr(mod, name, None)
        if isinstance(value, type):
            return value
    value = getattr(meshsec.errors, name, None)
    return value if isinstance(value, type) else None
