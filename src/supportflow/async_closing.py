"""``async with`` for anything that has ``aclose``: the one spelling of that protocol.

Adapters, caches and registries each own something to release (connections, tasks); they
implement ``aclose`` and inherit entering and leaving from here.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class AsyncClosing:
    async def aclose(self) -> None:
        """Release what the object owns; subclasses say what."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
