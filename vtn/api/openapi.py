"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

pydantic emits JSON Schema 2020-12, which is OpenAPI 3.1's schema dialect, so model schemas go
into `components.schemas` unchanged.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from vtn.api.endpoints import Endpoint
from vtn.api.schemas import ErrorBody

REF = "#/components/schemas/{model}"
ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 64}
ERROR_TEXT = {
    401: "No, unknown, expired or revoked bearer token",
    403: "The token's role may not use this route",
    404: "No such object",
    409: "Conflicts with stored state",
    413: "The body is larger than the VTN accepts",
    422: "Invalid input; `errors` names each field and the reason",
    429: "Too many failed authentications from this address; retry after Retry-After seconds",
    503: "The database does not answer",
}


def build_openapi(endpoints: list[Endpoint], base_path: str = "/api/v1") -> dict[str, Any]:
    models = _collect_models(endpoints)
    keys, defs = models_json_schema(models, ref_template=REF)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "flexvpp VTN operator API",
            "version": version("flexvpp"),  # the installed distribution's (pyproject)
            "description": "Operate the flexvpp VTN: provision VENs, run DR events, read telemetry and opts.",
        },
        "servers": [{"url": base_path}],
        "paths": {},
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
    for endpoint in endpoints:
        path_item = doc["paths"].setdefault(endpoint.path, {})
        path_item[endpoint.method.lower()] = _operation(endpoint, keys)
    return doc


def _collect_models(endpoints: list[Endpoint]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for endpoint in endpoints:
        if endpoint.body is not None:
            models.append((endpoint.body, "validation"))
        model = _response_model(endpoint)
        if model is not None:
            models.append((model, "serialization"))
    return list(dict.fromkeys(models))


def _response_model(endpoint: Endpoint) -> type[BaseModel] | None:
    response = endpoint.response
    if isinstance(response, type) and issubclass(response, BaseModel):
        return response
    args = getattr(response, "__args__", ())
    if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0]
    return None


Keys = dict[Any, Any]  # (model, mode) -> schema or $ref


def _operation(endpoint: Endpoint, keys: Keys) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "responses": _responses(endpoint, keys),
    }
    if endpoint.description:
        op["description"] = endpoint.description
    if endpoint.roles:
        op["security"] = [{"bearerAuth": []}]
        op["x-roles"] = sorted(endpoint.roles)
    else:
        op["security"] = []
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": ID_SCHEMA} for name in endpoint.path_params
    ]
    if endpoint.query is not None:
        parameters += _query_parameters(endpoint.query)
    if parameters:
        op["parameters"] = parameters
    if endpoint.body is not None:
        op["requestBody"] = {
            "required": endpoint.body_required,
            "content": {"application/json": {"schema": keys[(endpoint.body, "validation")]}},
        }
    return op


def _responses(endpoint: Endpoint, keys: Keys) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    success: dict[str, Any] = {"description": endpoint.summary}
    model = _response_model(endpoint)
    if model is not None:
        schema = keys[(model, "serialization")]
        if model is not endpoint.response:
            schema = {"type": "array", "items": schema}
        success["content"] = {"application/json": {"schema": schema}}
        if endpoint.csv is not None:  # the same answer as a table, for `Accept: text/csv`
            success["content"]["text/csv"] = {"schema": {"type": "string"}}
    responses[str(endpoint.status)] = success
    statuses = set(endpoint.errors)
    if endpoint.roles:
        statuses |= {401, 403, 429}  # 429: vtn/api/ratelimit.py
    if endpoint.body is not None or endpoint.query is not None:
        statuses.add(422)
    if endpoint.body is not None:
        statuses.add(413)
    if endpoint.path_params:
        statuses.add(404)
    error_schema = keys[(ErrorBody, "serialization")]
    for status in sorted(statuses):
        response: dict[str, Any] = {
            "description": ERROR_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": error_schema}},
        }
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        if status == 429:
            response["headers"] = {"Retry-After": {"schema": {"type": "string"}}}
        responses[str(status)] = response
    return responses


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = TypeAdapter(model).json_schema(ref_template=REF, schema_generator=GenerateJsonSchema)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        param_schema = _without_null(
            {k: v for k, v in prop.items() if k not in ("title", "description", "default")}
        )
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": param_schema,
        }
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return parameters


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query string cannot carry JSON null: an optional parameter is simply left out."""
    branches = schema.get("anyOf")
    if not branches:
        return schema
    kept = [b for b in branches if b.get("type") != "null"]
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}
