"""YAML reading that keeps line numbers and the source text of every scalar.

PyYAML follows YAML 1.1, where ``no`` is a boolean, ``1e-3`` is a string,
``010`` is octal and ``1:30`` is the integer 90. The schema layer uses the
source text kept here to give such values the meaning the user intended, or
a clear error. Duplicate keys, tab indentation and empty documents are
reported as problems instead of being accepted silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from ._errors import Problem, ValidationError

@dataclass(frozen=True)
class Scalar:
    """Origin of a value: its line and, for scalars, the text as written."""

    line: int
    text: str | None = None
    quoted: bool = False


@dataclass
class Document:
    """Parsed YAML data plus the origin of every value, keyed by field path."""

    data: Any
    origins: dict[tuple, Scalar]
    file: str

    def line(self, path: tuple) -> int | None:
        """Return the line of ``path`` or of its closest parent that has one."""
        while path:
            if path in self.origins:
                return self.origins[path].line
            path = path[:-1]
        return self.origins.get((), Scalar(1)).line


def format_path(path: tuple) -> str:
    """Render a field path as the dotted form used by overrides, e.g. ``compress[0].sparsity``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _walk(loader: yaml.SafeLoader, node: yaml.Node, path: tuple, origins: dict, problems: list, file: str) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        origins[path] = Scalar(line, node.value, quoted=node.style in ("'", '"', "|", ">"))
        return loader.construct_object(node, deep=True)
    origins[path] = Scalar(line)
    if isinstance(node, yaml.SequenceNode):
        return [_walk(loader, item, path + (i,), origins, problems, file) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key_node, yaml.ScalarNode) and not isinstance(key, str):
                # YAML 1.1 turns keys like `on` or `no` into booleans; keys are names.
                key = key_node.value
            key_line = key_node.start_mark.line + 1
            if key in result:
                problems.append(Problem(
                    file, format_path(path + (key,)),
                    f"duplicate key {key!r} (first set on line {first_line[key]}); "
                    f"YAML keeps only the last value, so delete one of them",
                    key_line,
                ))
            first_line[key] = key_line
            result[key] = _walk(loader, value_node, path + (key,), origins, problems, file)
            origins[path + (key,)] = Scalar(key_line, *(
                (origins[path + (key,)].text, origins[path + (key,)].quoted)
                if isinstance(value_node, yaml.ScalarNode) else (None, False)
            ))
        return result
    raise ValidationError([Problem(file, format_path(path), f"unsupported YAML node {node.tag}", line)])


def parse_yaml(text: str, file: str) -> Document:
    """Parse one YAML document, raising ``ValidationError`` with lines on any problem."""
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise ValidationError([Problem(file, "", "the file is empty; it must contain a YAML mapping", 1)])
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" ")
        if stripped.startswith("\t"):
            raise ValidationError([Problem(
                file, "", "a tab is used for indentation; YAML allows only spaces, so replace the tab with spaces", number
            )])
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ValidationError([Problem(file, "", "the file is empty; it must contain a YAML mapping", 1)])
        problems: list[Problem] = []
        origins: dict[tuple, Scalar] = {}
        data = _walk(loader, node, (), origins, problems, file)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        message = " ".join(filter(None, [error.context, error.problem]))
        raise ValidationError([Problem(file, "", f"invalid YAML: {message}", line)]) from None
    except yaml.YAMLError as error:
        raise ValidationError([Problem(file, "", f"invalid YAML: {error}")]) from None
    finally:
        loader.dispose()
    if problems:
        raise ValidationError(problems)
    return Document(data, origins, file)
