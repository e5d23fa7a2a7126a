"""The layers of invitegw, as docs/architecture.md draws them, checked on the source.

- the pure core (``ics``, ``itip``, ``domain``, ``errors``, ``mailbox.mime``, ``templates``)
  imports no I/O library and nothing of the shell;
- each layer imports only the layers inside it (``gateway`` may use everything; ``itip``
  only ``ics``, ``domain`` and ``errors``; ``ics`` only itself and ``errors``);
- there is no import cycle between the modules of ``invitegw`` (a lazy import inside a
  function counts: it is a cycle all the same, only hidden);
- every module has a docstring.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "invitegw"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: dict[str, Path] = {
    _module_name(path): path
    for path in sorted(PACKAGE.rglob("*.py"))
    if "migrations" not in path.parts
}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk_runtime(node: ast.AST) -> Iterator[ast.AST]:
    """Every node, skipping ``if TYPE_CHECKING:`` blocks (annotations only, never run)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            yield from (n for stmt in child.orelse for n in _walk_runtime(stmt))
            continue
        yield child
        yield from _walk_runtime(child)


def _imports(path: Path) -> set[str]:
    """The modules ``path`` imports at run time, at module granularity."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in _walk_runtime(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return found


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


# The pure core: values and decisions, no sockets, no database, no processes.
PURE = (
    "invitegw.errors",
    "invitegw.ics",
    "invitegw.itip",
    "invitegw.domain",
    "invitegw.mailbox.mime",
    "invitegw.templates",
    # The outbound side's pure steps that live beside the shell that runs them.
    "invitegw.gateway.outbound.messages",
    "invitegw.gateway.outbound.snapshot",
)
IO_LIBRARIES = (
    "smtplib",
    "imaplib",
    "imapclient",
    "aiosmtpd",
    "sqlalchemy",
    "alembic",
    "apscheduler",
    "socket",
    "ssl",
    "httpx",
    "urllib.request",
    "http.client",
    "subprocess",
    "psycopg",
    "starlette",
    "uvicorn",
)

# What each layer may import of ours (docs/architecture.md, "The layers").
ALLOWED: dict[str, tuple[str, ...]] = {
    "invitegw.errors": (),
    "invitegw.ics": ("invitegw.ics", "invitegw.errors"),
    "invitegw.domain": ("invitegw.domain", "invitegw.errors"),
    "invitegw.itip": ("invitegw.itip", "invitegw.ics", "invitegw.domain", "invitegw.errors"),
    "invitegw.templates": (
        "invitegw.templates",
        "invitegw.itip.policy",
        "invitegw.ics",
        "invitegw.errors",
    ),
    "invitegw.mailbox": (
        "invitegw.mailbox",
        "invitegw.templates",
        "invitegw.ics",
        "invitegw.domain",
        "invitegw.errors",
    ),
    "invitegw.crm_adapter": (
        "invitegw.crm_adapter",
        "invitegw.domain",
        "invitegw.ics",
        "invitegw.errors",
        "invitegw.sqltypes",
    ),
    "invitegw.sqltypes": (),
}


def _layer(name: str) -> str | None:
    matches = [layer for layer in ALLOWED if _within(name, (layer,))]
    return max(matches, key=len) if matches else None


def _pure(name: str) -> bool:
    return _within(name, PURE)


@pytest.mark.parametrize("name", [n for n in MODULES if _pure(n)])
def test_pure_core_has_no_io_imports(name: str) -> None:
    bad = sorted(n for n in _imports(MODULES[name]) if _within(n, IO_LIBRARIES))
    assert not bad, f"{name} imports {bad}: the pure core must stay free of I/O"


@pytest.mark.parametrize("name", [n for n in MODULES if _pure(n)])
def test_pure_core_imports_nothing_of_the_shell(name: str) -> None:
    ours = {n for n in _imports(MODULES[name]) if n.startswith("invitegw")}
    bad = sorted(n for n in ours if not _pure(n) and not _within(n, ("invitegw.sqltypes",)))
    assert not bad, f"{name} imports {bad} from the shell"


@pytest.mark.parametrize("name", [n for n in MODULES if _layer(n) is not None])
def test_layers_point_inward(name: str) -> None:
    layer = _layer(name)
    assert layer is not None
    allowed = ALLOWED[layer]
    ours = {n for n in _imports(MODULES[name]) if n.startswith("invitegw") and n != "invitegw"}
    bad = sorted(n for n in ours if not _within(n, allowed))
    assert not bad, f"{name} (layer {layer}) imports {bad}; it may import only {allowed}"


def test_itip_and_ics_import_no_database_network_or_shell() -> None:
    """The rule the restructuring was for, said in one place."""
    forbidden = (
        "sqlalchemy",
        *IO_LIBRARIES,
        "invitegw.gateway",
        "invitegw.mailbox",
        "invitegw.crm_adapter",
    )
    offenders = {
        name: sorted(n for n in _imports(path) if _within(n, forbidden))
        for name, path in MODULES.items()
        if _within(name, ("invitegw.itip", "invitegw.ics"))
    }
    assert not {k: v for k, v in offenders.items() if v}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        # A package's own __init__ re-exports its modules; the modules importing the
        # package's public names instead of each other's would be a cycle, and counts.
        graph[name] = {n for n in _imports(path) if n in MODULES and n != name}
    return graph


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_cycle_finder_finds_a_cycle() -> None:
    """The check above can fail: a known cycle is reported."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(p.relative_to(PACKAGE))
        for p in sorted(PACKAGE.rglob("*.py"))
        if "migrations/versions" not in str(p)
        and ast.get_docstring(ast.parse(p.read_text())) is None
    ]
    assert not missing, f"modules without a docstring: {missing}"


# The modules that do the work take what they need (a unit of work, their settings, their
# collaborators); only the composition root, the front ends (commands, HTTP, application
# use cases, the demo) and the process plumbing of `serve` hold the assembled gateway.
HOLD_THE_GATEWAY = (
    "invitegw.gateway.bootstrap",
    "invitegw.gateway.app",
    "invitegw.gateway.commands",
    "invitegw.gateway.cli",
    "invitegw.gateway.http",
    "invitegw.gateway.web",
    "invitegw.gateway.operations",
    "invitegw.gateway.monitor",
    "invitegw.gateway.mailauth",
    "invitegw.gateway.scheduler",
    "invitegw.demo",
)


def _imports_with_type_checking(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }


@pytest.mark.parametrize(
    "name", [n for n in MODULES if n.startswith("invitegw.") and not _within(n, HOLD_THE_GATEWAY)]
)
def test_the_workers_never_reach_for_the_composition_root(name: str) -> None:
    found = _imports_with_type_checking(MODULES[name])
    # The package or any of its modules (``bootstrap.core``, ``bootstrap.inbound``...).
    reached = sorted(n for n in found if _within(n, ("invitegw.gateway.bootstrap",)))
    assert not reached, (
        f"{name} imports the composition root ({reached}): take a UnitOfWork and explicit "
        "parts instead"
    )
