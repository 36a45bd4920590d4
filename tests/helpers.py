"""Small shared test utilities."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
TEMPORAL_CLI = str(VENV_BIN / "temporal")
TEMPORAL_TEST_SERVER = str(VENV_BIN / "temporal-test-server")
SUPPORTFLOW = str(VENV_BIN / "supportflow")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
