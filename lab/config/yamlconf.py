"""YAML loading that remembers where every value came from, validated by a JSON Schema.

Hand-written YAML is the lab's front door: every error must name file, line and column. PyYAML's
node tree carries marks; we build plain data from it and keep a map from each value's JSON path to
its mark, so a jsonschema error (which knows only the path) can be reported at the right line.
Hostile documents are bounded: size, node count and nesting are capped, aliases are refused.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from lab.dirs import schemas_dir
from lab.errors import ConfigError, ConfigErrors, SourceLocation

MAX_BYTES = 1 << 20
MAX_NODES = 50_000
MAX_DEPTH = 32

JsonPath = tuple[str | int, ...]


@dataclass
class Document:
    """A loaded YAML file: its data and where each value stands."""

    path: Path
    data: Any
    marks: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)

    def location(self, json_path: JsonPath) -> SourceLocation:
        """The nearest recorded location for a path (falls back to its parents)."""
        p = tuple(json_path)
        while p not in self.marks and p:
            p = p[:-1]
        line, col = self.marks.get(p, (1, 1))
        return SourceLocation(self.path, line, col)

    def error(self, json_path: JsonPath, message: str) -> ConfigError:
        return ConfigError(self.location(json_path), message)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns a composed node tree into plain data, recording marks and enforcing limits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.marks: dict[JsonPath, tuple[int, int]] = {}
        self.count = 0

    def fail(self, node: yaml.Node, message: str) -> ConfigError:
        line, col = _mark(node)
        return ConfigError(SourceLocation(self.path, line, col), message)

    def build(self, node: yaml.Node, at: JsonPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"document too large (more than {MAX_NODES} values)")
        if len(at) > MAX_DEPTH:
            raise self.fail(node, f"document nested too deeply (more than {MAX_DEPTH} levels)")
        self.marks[at] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, at)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*at, i)) for i, child in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return _scalar(node)

    def _mapping(self, node: yaml.MappingNode, at: JsonPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.fail(key_node, "merge keys (<<) are not supported; write the keys out")
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail(key_node, "keys must be plain strings")
            key = _scalar(key_node)
            if not isinstance(key, str):
                raise self.fail(key_node, f"keys must be strings, not {type(key).__name__}")
            if key in out:
                raise self.fail(key_node, f"duplicate key {key!r}")
            self.marks[(*at, key, "<key>")] = _mark(key_node)
            out[key] = self.build(value_node, (*at, key))
            if not isinstance(value_node, yaml.ScalarNode):
                # A block's errors (a missing key, say) read best at the line that names it.
                self.marks[(*at, key)] = _mark(key_node)
        return out


def _scalar(node: yaml.ScalarNode) -> Any:
    """Construct one scalar exactly as yaml.safe_load would (ints, bools, nulls, strings)."""
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _refuse_aliases(text: str, path: Path) -> None:
    """Aliases are how "billion laughs" documents blow up memory; the lab needs none."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                mark = event.start_mark
                line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
                raise ConfigError(
                    SourceLocation(path, line, col),
                    "YAML anchors and aliases (&name / *name) are not supported; write values out",
                )
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, path) from None


def _yaml_error(exc: yaml.YAMLError, path: Path) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    if mark is None:
        return ConfigError(SourceLocation(path), message)
    return ConfigError(SourceLocation(path, mark.line + 1, mark.column + 1), message)


def load_yaml(path: Path) -> Document:
    """Read and parse one YAML file with limits; errors name the file and line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(SourceLocation(path), "file not found") from None
    except OSError as exc:
        raise ConfigError(SourceLocation(path), f"cannot read: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(
            SourceLocation(path), f"file too large ({len(raw)} bytes, max {MAX_BYTES})"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(SourceLocation(path), f"not UTF-8 text (byte {exc.start})") from None
    _refuse_aliases(text, path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, path) from None
    except RecursionError:
        raise ConfigError(SourceLocation(path), "document nested too deeply") from None
    if root is None:
        return Document(path, None, {(): (1, 1)})
    builder = _Builder(path)
    try:
        data = builder.build(root, ())
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, path) from None
    return Document(path, data, builder.marks)


@cache
def schema(name: str) -> dict[str, Any]:
    """A published JSON Schema from lab/config/schemas/ (editors validate with the same file)."""
    with (schemas_dir() / f"{name}.schema.json").open() as f:
        loaded: dict[str, Any] = json.load(f)
    return loaded


def _allowed_keys(error: jsonschema.ValidationError) -> list[str]:
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return sorted(props)


def _describe(error: jsonschema.ValidationError, doc: Document) -> Iterator[ConfigError]:
    at: JsonPath = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = _allowed_keys(error)
        for key in error.instance:
            if key in allowed:
                continue
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            expected = f" (expected one of: {', '.join(allowed)})" if allowed else ""
            key_at = (*at, key, "<key>")
            loc = doc.marks.get(key_at) or doc.marks.get((*at, key))
            location = SourceLocation(doc.path, *loc) if loc else doc.location(at)
            yield ConfigError(location, f"unknown key {key!r}{suggestion}{expected}")
        return
    where = "/".join(str(p) for p in at) or "document"
    message = error.message
    if len(message) > 300:
        message = message[:300] + "…"
    yield doc.error(at, f"{where}: {message}")


def validate(doc: Document, schema_name: str) -> None:
    """Validate against a published schema; all errors at once, each with its line."""
    validator = jsonschema.Draft202012Validator(schema(schema_name))
    errors = sorted(
        validator.iter_errors(doc.data),
        key=lambda e: doc.location(tuple(e.absolute_path)).line or 0,
    )
    found = [c for e in errors for c in _describe(e, doc)]
    if len(found) == 1:
        raise found[0]
    if found:
        raise ConfigErrors(found)
