"""YAML loading that remembers where each mapping and list item stood.

Diagnostics must name the line of the offending rule or key, so the loader returns
`LineDict`/`LineList` containers carrying line numbers (1-based), and `line_at`
follows an error's location path to the nearest known line.
"""
from __future__ import annotations

import stat
from pathlib import Path
from typing import Any, Sequence

import yaml

from triage.errors import RuleFileError


class LineDict(dict):
    """A dict from YAML with the line of the mapping and of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list):
    """A list from YAML with the line of the list and of each item."""

    line: int = 0
    item_lines: list[int]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml: 10x faster on big files
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable key", key_node.start_mark) from None
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    """An unquoted date or datetime; one that looks like a date but is none (2026-13-01) is
    refused with its line, rather than escaping as a bare ValueError."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(None, None, f"{node.value!r} is not a date ({exc})",
                                                node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)

MAX_RULE_FILE_BYTES = 5 * 1024 * 1024
# Aliases are shared, not copied, when loading: a "billion laughs" file loads in
# microseconds and then hangs whatever walks it. Its expanded size is counted first.
MAX_EXPANDED_VALUES = 1_000_000


def load_yaml(path: Path) -> Any:
    """Parse one YAML file; errors become `RuleFileError` with the file and line."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise RuleFileError("not a regular file" + (" (a folder)" if path.is_dir() else ""), file=str(path))
        if st.st_size > MAX_RULE_FILE_BYTES:
            raise RuleFileError(f"file is {st.st_size} bytes; rule files are limited to "
                                f"{MAX_RULE_FILE_BYTES} bytes", file=str(path))
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RuleFileError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})", file=str(path)) from None
    except OSError as exc:
        raise RuleFileError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
        if expanded_size(data) > MAX_EXPANDED_VALUES:
            raise RuleFileError(f"aliases expand to more than {MAX_EXPANDED_VALUES:,} values "
                                "(an alias bomb?)", file=str(path))
        return data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = " ".join(x for x in (exc.context, exc.problem) if x) or "invalid YAML"
        raise RuleFileError(f"invalid YAML: {reason}", file=str(path), line=line) from None
    except yaml.YAMLError as exc:
        raise RuleFileError(f"invalid YAML: {exc}", file=str(path)) from None
    except RecursionError:
        raise RuleFileError("invalid YAML: nested too deeply", file=str(path)) from None


def expanded_size(data: Any) -> int:
    """How many values `data` holds once every alias is expanded (shared nodes counted once each use)."""
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        known = sizes.get(id(node))
        if known is None:
            children = node.values() if isinstance(node, dict) else node
            known = sizes[id(node)] = 1 + sum(size(c) for c in children)
        return known

    return size(data)


def line_at(data: Any, loc: Sequence[Any]) -> int | None:
    """The line of the deepest node along `loc` that has one."""
    line = getattr(data, "line", None)
    node = data
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
        line = getattr(node, "line", line) if isinstance(node, LineDict) else line
    return line
