"""Choose the understanding engine from configuration (SUPPORTFLOW_MODEL)."""

from __future__ import annotations

from supportflow.understanding.contract import Engine


class UnknownEngine(ValueError):
    pass


def load_engine(name: str) -> Engine:
    if name == "local":
        from supportflow.understanding.local import get_local_engine

        return get_local_engine()
    raise UnknownEngine(f"unknown understanding engine {name!r}: use local")
