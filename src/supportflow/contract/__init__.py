"""What crosses the language boundary (issue 16): payloads a merchant's TypeScript service
sends or receives, as pydantic models. Pure data: no Temporal, workflows, API or database.

``scripts/gen_contract.py`` writes their JSON Schema to ``sdk/typescript/contract/``, from which
the TypeScript SDK generates its types; a test fails when the two drift.
"""
