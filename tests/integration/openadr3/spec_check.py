"""Checks OpenADR 3.1 replies against the Alliance's OpenAPI document (the copy the VTN serves,
vtn/openadr3/openadr3-3.1.0.yaml): the status must be one the operation documents, and the body
must conform to that status's schema (jsonschema on the YAML's component schemas).

The document is OpenAPI 3.0, so `nullable: true` becomes a JSON Schema `null` alternative here,
and a boolean `exclusiveMaximum` the number.
One contradiction of the spec is resolved, and only for the check: `ven` is allOf objectMetadata
(objectType one of PROGRAM, ..., VEN) and BlVenRequest (objectType BL_VEN_REQUEST), which no
object can satisfy; the VTN answers objectType VEN (objectMetadata's, and what notifications
name), so BlVenRequest's objectType also admits VEN here; the same for `resource` (RESOURCE).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import jsonschema
import yaml
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from vtn.openadr3.app import spec_text

URN = "urn:openadr3"


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema keywords to JSON Schema 2020-12 (nullable, boolean exclusive bounds;
    local $refs to the URN)."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("nullable", "discriminator", "example")}
    for bound, exclusive in (("maximum", "exclusiveMaximum"), ("minimum", "exclusiveMinimum")):
        if out.get(exclusive) is True and bound in out:  # 3.0's boolean form
            out[exclusive] = out.pop(bound)
        elif exclusive in out and isinstance(out[exclusive], bool):
            del out[exclusive]
    if "$ref" in out and out["$ref"].startswith("#/"):
        out["$ref"] = URN + out["$ref"]
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def spec() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(spec_text())
    doc = copy.deepcopy(doc)
    schemas = doc["components"]["schemas"]
    schemas["BlVenRequest"]["properties"]["objectType"]["enum"].append("VEN")
    schemas["BlResourceRequest"]["properties"]["objectType"]["enum"].append("RESOURCE")
    return doc


@cache
def _registry() -> Registry:
    converted = _json_schema({"components": spec()["components"]})
    return Registry().with_resource(URN, DRAFT202012.create_resource(converted))


def validate_schema(name: str, instance: Any) -> None:
    """Assert `instance` conforms to the component schema `name` (e.g. "event")."""
    schema = {"$ref": f"{URN}#/components/schemas/{name}"}
    jsonschema.Draft202012Validator(
        schema, registry=_registry(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(instance)


def operation(method: str, path: str) -> dict[str, Any] | None:
    """The spec's operation for a concrete path (e.g. /events/abc), or None if undocumented."""
    actual = path.split("?")[0].strip("/").split("/")
    for template, item in spec()["paths"].items():
        parts = template.strip("/").split("/")
        if len(parts) == len(actual) and all(
            p == a or (p.startswith("{") and p.endswith("}")) for p, a in zip(parts, actual, strict=True)
        ):
            found = item.get(method.lower())
            return found if isinstance(found, dict) else None
    return None


def _response(documented: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in documented:
        return spec()["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]
    return documented


def check_reply(method: str, path: str, status: int, body: Any) -> None:
    """Assert the reply is one the spec promises for this operation (status and body schema)."""
    op = operation(method, path)
    assert op is not None, f"{method} {path} is not an operation of the spec"
    documented = op["responses"]
    assert str(status) in documented, f"{method} {path}: status {status} is not documented: {body}"
    content = _response(documented[str(status)]).get("content")
    if content is None:
        return
    schema = _json_schema(content["application/json"]["schema"])
    jsonschema.Draft202012Validator(
        schema, registry=_registry(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(body)
