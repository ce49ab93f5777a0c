"""``airflow-mlops schema``: print the spec's JSON Schema (for editor autocompletion)."""

from __future__ import annotations

import argparse
import json

from airflow_mlops.spec import json_schema


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of a model spec",
        description="Print the JSON Schema of a model spec. Point your editor's YAML language server at it, "
        "e.g. `# yaml-language-server: $schema=spec.schema.json`.",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0
