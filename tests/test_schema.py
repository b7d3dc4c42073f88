"""The shipped JSON Schemas equal the generated ones, and the shipped files validate against them.

jsonschema is not a dependency, so a small draft-7 validator of the keywords our
schemas use is below; it is tested on bad files too, so that it cannot pass vacuously.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from conftest import RULES
from triage.cli import cli
from triage.cli.schema_cmd import schema_text
from triage.rules.layout import rule_files
from triage.ruletests.runner import find_test_files

RULE_SCHEMA = RULES / "rule-file.schema.json"
TEST_SCHEMA = RULES / "rule-test.schema.json"
MODELINE = "# yaml-language-server: $schema="


def problems(instance: Any, schema: dict, root: dict, path: str = "$") -> list[str]:
    """Draft-7 validation for the keywords our generated schemas use."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/definitions/")
        return problems(instance, root["definitions"][name], root, path)
    out: list[str] = []
    if "anyOf" in schema:
        if all(problems(instance, s, root, path) for s in schema["anyOf"]):
            out.append(f"{path}: matches none of anyOf")
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_is(instance, t) for t in types):
            return out + [f"{path}: not of type {types}"]
    if "enum" in schema and instance not in schema["enum"]:
        out.append(f"{path}: {instance!r} not in {schema['enum']}")
    if isinstance(instance, str):
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            out.append(f"{path}: does not match {schema['pattern']}")
        if len(instance) < schema.get("minLength", 0) or len(instance) > schema.get("maxLength", 1 << 60):
            out.append(f"{path}: bad length")
    if _is(instance, "number"):
        if "minimum" in schema and instance < schema["minimum"] or "maximum" in schema and instance > schema["maximum"]:
            out.append(f"{path}: out of range")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            out.append(f"{path}: too few items")
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(instance):
                out += problems(item, schema["items"], root, f"{path}[{i}]")
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in instance:
                out.append(f"{path}: missing {key}")
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in props:
                out += problems(value, props[key], root, f"{path}.{key}")
            elif extra is False:
                out.append(f"{path}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                out += problems(value, extra, root, f"{path}.{key}")
    return out


def _is(v: Any, t: str) -> bool:
    return {"object": isinstance(v, dict), "array": isinstance(v, list), "string": isinstance(v, str),
            "boolean": isinstance(v, bool), "null": v is None,
            "integer": isinstance(v, int) and not isinstance(v, bool),
            "number": isinstance(v, (int, float)) and not isinstance(v, bool)}[t]


def load(path: Path) -> Any:
    return json.loads(json.dumps(yaml.safe_load(path.read_text())))


@pytest.mark.parametrize("kind, path", [("rules", RULE_SCHEMA), ("tests", TEST_SCHEMA)])
def test_shipped_schema_equals_the_generated_one(kind, path):
    assert path.read_text() == schema_text(kind), (
        f"regenerate it: triage schema --kind {kind} --out {path.relative_to(RULES.parent)}")


def test_schema_is_draft_7_with_our_title():
    schema = json.loads(RULE_SCHEMA.read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["title"] == "triage rule file"
    assert "$defs" not in RULE_SCHEMA.read_text()
    assert json.loads(TEST_SCHEMA.read_text())["title"] == "triage rule tests"


@pytest.mark.parametrize("path", rule_files(RULES), ids=lambda p: p.name)
def test_every_shipped_rule_file_validates_and_names_the_schema(path):
    schema = json.loads(RULE_SCHEMA.read_text())
    assert problems(load(path), schema, schema) == []
    assert path.read_text().splitlines()[0] == MODELINE + "./rule-file.schema.json"


@pytest.mark.parametrize("path", find_test_files(RULES), ids=lambda p: p.name)
def test_every_shipped_test_file_validates_and_names_the_schema(path):
    schema = json.loads(TEST_SCHEMA.read_text())
    assert problems(load(path), schema, schema) == []
    target = (path.parent / path.read_text().splitlines()[0].removeprefix(MODELINE)).resolve()
    assert target == TEST_SCHEMA.resolve()


@pytest.mark.parametrize("text, words", [
    ("decision: tier\nhit_policy: sometimes\nrules: []\n", "not in"),
    ("decision: tier\nrules:\n  - {id: a, then: NSS, colour: red}\n", "unexpected key 'colour'"),
    ("decision: tier\nrules:\n  - {id: 'bad id', then: NSS}\n", "does not match"),
    ("decision: tier\nrules:\n  - {id: a, when: {affected_customers: {'=>': 2}}, then: NSS}\n", "anyOf"),
    ("decision: tier\nrules:\n  - {id: a, when: {category: [[a]]}, then: NSS}\n", "anyOf"),
    ("rules: []\n", "missing decision"),
])
def test_the_schema_rejects_bad_rule_files(tmp_path, text, words):
    schema = json.loads(RULE_SCHEMA.read_text())
    f = tmp_path / "x.yaml"
    f.write_text(text)
    found = problems(load(f), schema, schema)
    assert any(words in p for p in found), found


def test_the_test_schema_rejects_bad_test_files(tmp_path):
    schema = json.loads(TEST_SCHEMA.read_text())
    f = tmp_path / "x.test.yaml"
    f.write_text("cases:\n  - {name: a, tickt: {}, expect: {priority: P1}}\n")
    assert any("unexpected key 'tickt'" in p for p in problems(load(f), schema, schema))
    f.write_text("cases:\n  - {name: a, ticket: {channel: pigeon}, expect: {priority: P1}}\n")
    assert "$.cases[0].ticket: matches none of anyOf" in problems(load(f), schema, schema)
    ticket = schema["definitions"]["Ticket"]
    assert problems({"channel": "pigeon"}, ticket, schema) and not problems({"channel": "portal"}, ticket, schema)


def test_schema_command_writes_and_prints(tmp_path):
    res = CliRunner().invoke(cli, ["schema"])
    assert res.exit_code == 0 and json.loads(res.stdout)["title"] == "triage rule file"
    out = tmp_path / "s.json"
    res = CliRunner().invoke(cli, ["schema", "--kind", "tests", "--out", str(out)])
    assert res.exit_code == 0 and json.loads(out.read_text())["title"] == "triage rule tests"
    assert CliRunner().invoke(cli, ["schema", "--out", str(tmp_path / "no" / "s.json")]).exit_code == 2
