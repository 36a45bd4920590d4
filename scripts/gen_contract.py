#!/usr/bin/env python3
"""Write the cross-language contract's JSON Schema for the TypeScript SDK (issue 16).

    .venv/bin/python scripts/gen_contract.py            # (re)write sdk/typescript/contract/
    .venv/bin/python scripts/gen_contract.py --check    # exit 1 when a committed file differs

One file per payload that crosses the boundary between supportflow (Python) and a merchant's
Node service; the SDK's build turns them into TypeScript types (``npm run gen``). Inputs the
Node side produces are described as pydantic validates them (fields with defaults optional);
outputs it reads as pydantic serialises them (every field present).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from supportflow.contract.chat import ChatMessageIn, ChatReplyOut, ChatUpdatesOut
from supportflow.contract.custom_actions import CustomActionInput, CustomActionResult
from supportflow.contract.messages import MessageIn, MessageReplyOut
from supportflow.workflows.contract import TranscriptView

Mode = Literal["validation", "serialization"]
ROOT = Path(__file__).resolve().parent.parent
CONTRACT_DIR = ROOT / "sdk" / "typescript" / "contract"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# file stem -> (model, how the Node side meets it)
CONTRACT: dict[str, tuple[type[BaseModel], Mode]] = {
    # The workflow sends it to the merchant's worker; the worker returns the result.
    "custom_action_input": (CustomActionInput, "serialization"),
    "custom_action_result": (CustomActionResult, "validation"),
    # POST /v1/chat/messages and its answer (also GET /v1/chat/messages/{id}).
    "chat_message": (ChatMessageIn, "validation"),
    "chat_reply": (ChatReplyOut, "serialization"),
    "chat_updates": (ChatUpdatesOut, "serialization"),
    # POST /v1/messages (the merchant's API key, any channel) and its answer (also
    # GET /v1/messages/{message_id}).
    "message": (MessageIn, "validation"),
    "message_reply": (MessageReplyOut, "serialization"),
    # GET /v1/customers/{customer_id}/transcript
    "transcript": (TranscriptView, "serialization"),
}


def render(stem: str) -> str:
    model, mode = CONTRACT[stem]
    schema = {
        "$schema": DRAFT,
        "$id": f"https://supportflow.dev/contract/{stem}.schema.json",
        **model.model_json_schema(mode=mode),
    }
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def drift(directory: Path) -> list[str]:
    """What differs between ``directory`` and the models: missing, changed or stray files."""
    problems: list[str] = []
    for stem in CONTRACT:
        path = directory / f"{stem}.schema.json"
        if not path.exists():
            problems.append(f"{path.name} is missing")
        elif path.read_text(encoding="utf-8") != render(stem):
            problems.append(f"{path.name} differs from the Python models")
    expected = {f"{stem}.schema.json" for stem in CONTRACT}
    problems += [
        f"{p.name} is not generated from any model"
        for p in sorted(directory.glob("*.schema.json"))
        if p.name not in expected
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail when the files drift")
    parser.add_argument("--dir", type=Path, default=CONTRACT_DIR, help="the contract directory")
    args = parser.parse_args(argv)
    directory: Path = args.dir
    if args.check:
        problems = drift(directory)
        for problem in problems:
            sys.stderr.write(f"contract drift: {problem}\n")
        if problems:
            sys.stderr.write("run: .venv/bin/python scripts/gen_contract.py\n")
        return 1 if problems else 0
    directory.mkdir(parents=True, exist_ok=True)
    for stem in CONTRACT:
        (directory / f"{stem}.schema.json").write_text(render(stem), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
