"""A walk over an OpenAPI document that lists what a client could not trust in it:
a route without examples, an error that is not a problem document with its code, a
header missing from the answers that carry it, a schema without an example, an
example that does not match its schema. Used by ``test_openapi``."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

PROBLEM = "application/problem+json"
PROBLEM_REF = "#/components/schemas/ProblemDocument"
CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
ORDER_PATH = {("post", "/api/drops/{drop_id}/reserve"), ("post", "/api/drops/{drop_id}/purchase"),
              ("post", "/api/order"), ("delete", "/api/reservations/{reservation_id}")}
GATED = {("post", "/api/drops/{drop_id}/reserve"), ("post", "/api/order")}
#: answers that are not errors although their status says so
NOT_PROBLEMS = {("get", "/readyz", "503")}
#: pages are for browsers (their own document is the page): no example asked of them
PAGE = "text/html"


@dataclass
class Walk:
    doc: dict[str, Any]
    dev_mode: bool
    faults: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("operations", "responses", "error responses", "error examples", "examples checked",
         "schemas", "headers checked"), 0))

    # -- helpers -------------------------------------------------------------------------
    def fault(self, where: str, what: str) -> None:
        self.faults.append(f"{where}: {what}")

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def check_example(self, where: str, schema: dict[str, Any], value: Any) -> None:
        root = {"components": self.doc.get("components", {}), **copy.deepcopy(schema)}
        errors = [e.message for e in jsonschema_rs.Draft202012Validator(root).iter_errors(value)]
        self.counts["examples checked"] += 1
        if errors:
            self.fault(where, f"example does not match its schema: {errors[:2]}")

    def media_examples(self, where: str, media: dict[str, Any]) -> list[Any]:
        """The examples of a media type (its own, else its schema's); a fault when none."""
        schema = media.get("schema", {})
        found: list[Any] = []
        if "example" in media:
            found.append(media["example"])
        found += [e["value"] for e in media.get("examples", {}).values() if "value" in e]
        if not found:
            resolved = self.resolve(schema) if schema else {}
            found = list(resolved.get("examples", []))
            if "example" in resolved:
                found.append(resolved["example"])
        if not found:
            self.fault(where, "no example")
        elif schema:
            for value in found:
                self.check_example(where, schema, value)
        return found

    # -- the walk ------------------------------------------------------------------------
    def run(self) -> Walk:
        text = json.dumps(self.doc)
        if "HTTPValidationError" in text:
            self.fault("document", "FastAPI's default 422 shape (not a problem document)")
        self.security(text)
        for path, operations in self.doc["paths"].items():
            for method, op in operations.items():
                self.operation(method, path, op)
        for name, schema in self.doc.get("components", {}).get("schemas", {}).items():
            self.schema(name, schema)
        return self

    def security(self, text: str) -> None:
        schemes = self.doc.get("components", {}).get("securitySchemes", {})
        if schemes.get("HTTPBearer", {}).get("scheme") != "bearer":
            self.fault("securitySchemes", "no bearer scheme")
        if self.dev_mode and schemes.get("DevUserId", {}).get("name") != "X-User-Id":
            self.fault("securitySchemes", "DEV_MODE on, the X-User-Id scheme missing")
        if not self.dev_mode and ("DevUserId" in schemes or "X-User-Id" in text):
            self.fault("securitySchemes", "DEV_MODE off, yet X-User-Id is documented")

    def operation(self, method: str, path: str, op: dict[str, Any]) -> None:
        where = f"{method.upper()} {path}"
        self.counts["operations"] += 1
        if not op.get("summary"):
            self.fault(where, "no summary")
        body = op.get("requestBody")
        if body:
            for media_type, media in body.get("content", {}).items():
                self.media_examples(f"{where} request {media_type}", media)
        params = {p["name"]: p for p in op.get("parameters", [])}
        if (method, path) in ORDER_PATH and not params.get("Idempotency-Key", {}).get(
                "required"):
            self.fault(where, "Idempotency-Key not a required header")
        if op.get("security"):
            alternatives = [next(iter(s)) for s in op["security"]]
            wanted = ["HTTPBearer", "DevUserId"] if self.dev_mode else ["HTTPBearer"]
            if alternatives != wanted:
                self.fault(where, f"security {alternatives}, expected {wanted}")
        responses = op.get("responses", {})
        if not any(s.startswith(("2", "3")) for s in responses):
            self.fault(where, "no success response")
        for status, response in responses.items():
            self.response(method, path, status, response)

    def response(self, method: str, path: str, status: str, response: dict[str, Any]) -> None:
        where = f"{method.upper()} {path} {status}"
        self.counts["responses"] += 1
        content = response.get("content", {})
        is_error = int(status) >= 400 or (int(status) == 302 and path.startswith("/api"))
        page_error = set(content) == {PAGE} and not path.startswith("/api")  # a page's 404
        if is_error and not page_error and (method, path, status) not in NOT_PROBLEMS:
            self.problem(where, int(status), content)
        else:
            for media_type, media in content.items():
                if media_type != PAGE:
                    self.media_examples(f"{where} {media_type}", media)
        self.headers(method, path, status, where, set(response.get("headers", {})))

    def problem(self, where: str, status: int, content: dict[str, Any]) -> None:
        self.counts["error responses"] += 1
        if set(content) != {PROBLEM}:
            self.fault(where, f"not only {PROBLEM}: {sorted(content)}")
            return
        media = content[PROBLEM]
        schema = media.get("schema", {})
        refs = [schema.get("$ref")] + [s.get("$ref") for s in schema.get("allOf", [])]
        if PROBLEM_REF not in refs:
            self.fault(where, "not the ProblemDocument schema")
        examples = media.get("examples", {})
        if not examples:
            self.fault(where, "no example")
        for name, example in examples.items():
            value = example.get("value", {})
            self.counts["error examples"] += 1
            if not CODE.match(str(value.get("code", ""))) or value.get("status") != status:
                self.fault(f"{where} {name}", f"example without its code or status: {value}")
            self.check_example(f"{where} {name}", schema, value)

    def headers(self, method: str, path: str, status: str, where: str, got: set[str]) -> None:
        wanted: set[str] = set()
        if path.startswith("/api/"):
            wanted |= {"RateLimit", "RateLimit-Policy"}
        if status == "429":
            wanted |= {"Retry-After"}
        if (method, path) in ORDER_PATH:
            if status.startswith("2") and status != "202":
                wanted |= {"Idempotent-Replayed"}
            if status == "202":
                wanted |= {"Location", "Retry-After"}
            if status == "409":
                wanted |= {"Location", "Retry-After"}  # REQUEST_IN_PROGRESS
        if (method, path) in GATED and status in ("302", "503"):
            wanted |= {"Location", "Retry-After", "X-Queue-Ticket"}
        self.counts["headers checked"] += len(wanted)
        if wanted - got:
            self.fault(where, f"headers missing: {sorted(wanted - got)}")

    def schema(self, name: str, schema: dict[str, Any]) -> None:
        self.counts["schemas"] += 1
        if "enum" in schema:  # its values are its examples
            return
        examples = schema.get("examples")
        if not examples:
            self.fault(f"schema {name}", "no examples")
            return
        for value in examples:
            self.check_example(f"schema {name}", {"$ref": f"#/components/schemas/{name}"},
                               value)


def walk(doc: dict[str, Any], *, dev_mode: bool) -> Walk:
    return Walk(doc, dev_mode).run()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method, path, op
