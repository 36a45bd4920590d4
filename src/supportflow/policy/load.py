"""Load a tenant's policy from a dict, a JSON file or a YAML file, validated on load."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from supportflow.policy.model import TenantPolicy


class PolicyError(ValueError):
    """The policy document is unreadable or breaks a rule; the message says where."""


def parse_policy(doc: Mapping[str, Any] | None) -> TenantPolicy:
    """A policy from a parsed document; an empty or missing document gives the defaults."""
    try:
        return TenantPolicy.model_validate(dict(doc or {}))
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}" for e in err.errors()
        )
        raise PolicyError(f"invalid tenant policy: {problems}") from err


def load_policy(path: Path) -> TenantPolicy:
    """Read ``*.json``, ``*.yaml`` or ``*.yml``. Blocking file I/O: not for workflow code."""
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            doc = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as err:
            raise PolicyError(f"{path}: {err}") from err
    elif suffix in (".yaml", ".yml"):
        doc = _yaml(path, text)
    else:
        raise PolicyError(f"{path}: policy files are .json, .yaml or .yml")
    if doc is not None and not isinstance(doc, Mapping):
        raise PolicyError(f"{path}: a policy is a mapping of settings")
    return parse_policy(doc)


def _yaml(path: Path, text: str) -> Any:
    # PyYAML comes with uvicorn[standard]; imported here so JSON-only setups never need it.
    import yaml  # type: ignore[import-untyped]

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise PolicyError(f"{path}: {err}") from err
