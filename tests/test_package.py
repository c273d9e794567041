"""The package itself: importable without the hardware libraries."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import showctl


def loaded(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after running ``code``."""
    probe = (
        f"{code}\nimport json, sys; print(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_import_pulls_in_no_hardware_library() -> None:
    """`import showctl` and the modules of this foundation load neither sounddevice nor gpiod,
    so they work on a laptop without PortAudio or libgpiod."""
    code = "import showctl, showctl.cli, showctl.show.model, showctl.walk, showctl.machine"
    assert loaded(code, ("sounddevice", "gpiod")) == []


def test_player_process_stays_lean() -> None:
    """A player (one per output, each within a 60 MB budget) loads neither structlog nor
    asyncio, which with what they pull in (ssl among it) cost 7.5 MB a process; nor the show
    loader, the state machine or the web server."""
    code = (
        "import sys; sys.argv = ['showctl', 'player', '--help']; "
        "import showctl.cli, showctl.players.player"
    )
    heavy = ("structlog", "asyncio", "yaml", "transitions", "showctl.show", "aiohttp")
    assert loaded(code, heavy) == []


def test_the_controller_loads_mqtt_and_osc_only_when_asked() -> None:
    """``showctl run`` with the default settings (the web page only) loads neither paho nor
    python-osc."""
    assert loaded("import showctl.app", ("paho", "pythonosc")) == []


def test_a_command_to_the_running_controller_loads_no_web_client() -> None:
    """``showctl status`` and its kin (each a fresh process, a prop's script may run them on
    every button) load neither aiohttp nor pyserial: they cost a fifth of a second to import."""
    code = (
        "import sys; sys.argv = ['showctl', 'status', '--help']; "
        "import showctl.cli, showctl.surfaces.control_socket"
    )
    assert loaded(code, ("aiohttp", "serial", "pythonosc", "paho")) == []


def imports_of_the_package() -> dict[str, set[str]]:
    """Each module of ``showctl`` and the modules of ``showctl`` it imports, anywhere in its
    text (a lazy import inside a function counts) and with the packages above each (importing
    ``a.b.c`` runs ``a/b/__init__.py`` first)."""
    root = Path(showctl.__file__).parent
    names = {}
    for file in root.rglob("*.py"):
        parts = file.relative_to(root.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    graph: dict[str, set[str]] = {}
    for name, file in names.items():
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        graph[name] = set()
        for module in found & names.keys():
            parts = module.split(".")
            graph[name].update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
        graph[name].discard(name)
    return graph


def test_no_module_imports_one_that_imports_it_back() -> None:
    """The modules of ``showctl`` form no import loop, however long: a newcomer can read any
    module after the ones it imports, and none needs a lazy import to break a cycle."""
    graph = imports_of_the_package()
    assert "showctl.show.loader" in graph["showctl.cli"] | graph["showctl.controller"]
    loops = []
    for start in graph:
        seen, todo = set(), [(start, (start,))]
        while todo:
            module, path = todo.pop()
            for nxt in graph[module]:
                if nxt == start:
                    loops.append(" -> ".join((*path, start)))
                elif nxt not in seen:
                    seen.add(nxt)
                    todo.append((nxt, (*path, nxt)))
    assert loops == []
