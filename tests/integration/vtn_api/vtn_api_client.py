"""A REST client for tests that checks every reply against the served OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema
from aiohttp.test_utils import TestClient
from referencing import Registry
from referencing.jsonschema import DRAFT202012

API = "/api/v1"


@dataclass
class Reply:
    status: int
    json: Any
    headers: dict[str, str]


class CheckedApi:
    """Calls /api/v1 and asserts each reply is one the OpenAPI document promises."""

    def __init__(self, client: TestClient, doc: dict[str, Any], token: str | None) -> None:
        self.client = client
        self.doc = doc
        self.token = token
        schemas = DRAFT202012.create_resource({"components": doc["components"]})
        self.registry: Registry = Registry().with_resource("urn:openapi", schemas)

    async def call(self, method: str, path: str, *, token: str | None = "default", **kwargs: Any) -> Reply:
        token = self.token if token == "default" else token
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.client.request(method, API + path, headers=headers, **kwargs) as resp:
            body = await resp.json() if resp.content_type == "application/json" else await resp.text()
            reply = Reply(resp.status, body, dict(resp.headers))
        self._check(method, path, reply)
        return reply

    def _check(self, method: str, path: str, reply: Reply) -> None:
        operation = self._operation(method, path)
        if operation is None:
            return  # not a documented route (the 404/405 tests)
        documented = operation["responses"]
        assert str(reply.status) in documented, f"{method} {path}: {reply.status} undocumented: {reply.json}"
        content = documented[str(reply.status)].get("content")
        if content is not None and reply.headers.get("Content-Type", "").startswith("text/csv"):
            assert "text/csv" in content, f"{method} {path}: CSV is not documented"
            return
        if content is not None:
            schema = {**content["application/json"]["schema"]}
            schema = _rebase(schema)
            jsonschema.Draft202012Validator(schema, registry=self.registry).validate(reply.json)

    def _operation(self, method: str, path: str) -> dict[str, Any] | None:
        actual = path.split("?")[0].strip("/").split("/")
        for template, item in self.doc["paths"].items():
            parts = template.strip("/").split("/")
            if len(parts) == len(actual) and all(
                p == a or (p.startswith("{") and p.endswith("}")) for p, a in zip(parts, actual, strict=True)
            ):
                return item.get(method.lower())  # type: ignore[no-any-return]
        return None

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Reply:
        return await self.call("POST", path, **kw)

    async def patch(self, path: str, **kw: Any) -> Reply:
        return await self.call("PATCH", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        return await self.call("DELETE", path, **kw)


def _rebase(schema: Any) -> Any:
    """Point the document's local $refs at the registry resource holding its components."""
    if isinstance(schema, dict):
        return {
            k: (f"urn:openapi{v}" if k == "$ref" and v.startswith("#/") else _rebase(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema
