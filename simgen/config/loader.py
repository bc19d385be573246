"""Read YAML into validated models, turning every failure into 'file:line: field: what was expected'."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from simgen.bundle import bundled_dir, bundled_names
from simgen.config.limits import MAX_SCENARIO_BYTES, MAX_YAML_NODES
from simgen.config.preset import RenderPreset
from simgen.config.scenario import Scenario
from simgen.errors import ScenarioError

Model = TypeVar("Model", bound=BaseModel)
LinePath = tuple[str | int, ...]


def _line_map(node: yaml.Node, path: LinePath = (), lines: dict[LinePath, int] | None = None) -> dict[LinePath, int]:
    """Map every key path in a YAML document to the 1-based line where it is written."""
    lines = {} if lines is None else lines
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = path + (key_node.value,)
            lines[child] = key_node.start_mark.line + 1
            _line_map(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            _line_map(item, path + (index,), lines)
    return lines


def data_path(data: Any, loc: tuple[Any, ...]) -> LinePath:
    """Keep only the parts of a pydantic error location that exist in the user's data.

    Pydantic inserts union and validator tags into ``loc``; the user only cares about their keys.
    """
    path: list[str | int] = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
            path.append(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
            path.append(part)
    return tuple(path)


def dotted(path: LinePath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser where PyYAML has it
    """PyYAML's safe loader, but a key written twice in one mapping is an error, not 'the last wins'."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in seen:
                    raise yaml.MarkedYAMLError(None, None, f"key '{key}' is written twice (first on line "
                                               f"{seen[key]}); write it once", key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
            except TypeError:  # an unhashable key ([a, b]: ...): PyYAML says so below
                continue
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node, limit: int) -> int:
    """How many values the document holds once anchors and aliases are expanded (capped at ``limit``).

    A few lines of aliases can stand for billions of values (a 'billion laughs' file); counting
    on the composed graph, where an alias is a shared node, costs only its real size.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(current: yaml.Node) -> int:
        key = id(current)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise yaml.MarkedYAMLError(None, None, "an alias refers to the value that contains it", current.start_mark)
        active.add(key)
        total = 1
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                total += size(key_node) + size(value_node)
                if total > limit:
                    break
        elif isinstance(current, yaml.SequenceNode):
            for item in current.value:
                total += size(item)
                if total > limit:
                    break
        active.discard(key)
        sizes[key] = min(total, limit + 1)
        return sizes[key]

    return size(node)


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(f"{path}: {path.stat().st_size} bytes; a scenario or preset file is at most "
                                f"{MAX_SCENARIO_BYTES >> 20} MiB")
        data = path.read_bytes()
    except FileNotFoundError:
        hint = "" if path.suffix in (".yaml", ".yml") or "/" in str(path) else (
            f" (bundled examples: {', '.join(bundled_names('scenes'))}; 'simgen init DIR' copies them)")
        raise ScenarioError(f"{path}: no such file{hint}") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path} is a folder; give a .yaml file") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ScenarioError(f"{path}:{line}: not a UTF-8 text file (byte {exc.start}); give a YAML file") from None
    if "\x00" in text:
        raise ScenarioError(f"{path}:{text[:text.index(chr(0))].count(chr(10)) + 1}: holds a NUL byte; "
                            f"not a YAML text file")
    return text


def _read_yaml(path: Path) -> tuple[Any, dict[LinePath, int]]:
    text = _read_text(path)
    loader = None
    try:
        loader = _StrictLoader(text)
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, MAX_YAML_NODES) > MAX_YAML_NODES:
            raise ScenarioError(f"{path}: expands to more than {MAX_YAML_NODES} values through anchors and aliases; "
                                f"a scenario needs far fewer")
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ScenarioError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.reader.ReaderError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc.reason} (character {exc.character!r} at byte "
                            f"{exc.position})") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: nested too deeply to be a scenario") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}:1: expected a mapping of keys (name:, classes:, ...), got {type(data).__name__}")
    return data, (_line_map(node) if node is not None else {})


def format_validation_error(path: Path, data: Any, lines: dict[LinePath, int], error: ValidationError) -> str:
    """One line per problem, each naming the file, line, field and the expectation."""
    messages = []
    for item in _most_specific(error.errors(include_url=False), data):
        field_path = data_path(data, item["loc"])
        ctx = item.get("ctx") or {}
        if "at" in ctx:  # a check across sections names the field it is about
            field_path = tuple(ctx["at"])
        elif item["type"] == "unknown_key":
            field_path = field_path + (ctx["key"],)
        elif item["type"] == "missing":
            field_path = tuple(item["loc"])
        line = lines.get(field_path) or lines.get(data_path(data, item["loc"])) or 1
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "required field is missing"
        messages.append(f"{path}:{line}: {dotted(field_path)}: {message}")
    unique = list(dict.fromkeys(messages))
    more = f" (and {len(unique) - 1} more problem(s) in this file)" if len(unique) > 1 else ""
    return unique[0] + more


def _most_specific(errors: list[Any], data: Any) -> list[Any]:
    """One error per field: where a value fits none of a union's branches, pydantic reports every branch;
    the deepest report (inside the branch that got furthest) says best what is wrong."""
    best: dict[LinePath, Any] = {}
    for item in errors:
        field_path = data_path(data, item["loc"])
        if field_path not in best or len(item["loc"]) > len(best[field_path]["loc"]):
            best[field_path] = item
    return list(best.values())


def _validate_with_lines(path: Path, model: type[Model]) -> tuple[Model, dict[LinePath, int]]:
    data, lines = _read_yaml(path)
    try:
        return model.model_validate(data), lines
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(path, data, lines, exc)) from None


def validate_file(path: Path, model: type[Model]) -> Model:
    return _validate_with_lines(path, model)[0]


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario; relative asset paths resolve against its folder.

    The scenario keeps its line map so that errors found later (an asset that does not resolve)
    can still say where in the file the offending field is: see ``locate``.
    """
    path = Path(path)
    scenario, lines = _validate_with_lines(path, Scenario)
    scenario._source = path.resolve()
    scenario._lines = lines
    return scenario


def locate(scenario: Scenario, *field: str | int) -> str:
    """'file:line: field' for a field of a loaded scenario (the nearest written parent's line)."""
    lines: dict[LinePath, int] = scenario._lines
    line = next((lines[field[:n]] for n in range(len(field), 0, -1) if field[:n] in lines), 1)
    source = scenario.source
    shown = source.relative_to(Path.cwd()) if source and source.is_relative_to(Path.cwd()) else source
    return f"{shown or '<scenario>'}:{line}: {dotted(field)}"


def preset_search_dirs(base_dir: Path | None = None) -> list[Path]:
    """Where a preset named in a scenario is looked for: the current folder's render_configs/, the
    scenario's (and its parent's, as `simgen init` lays them out), then the presets simgen ships."""
    near = [base_dir / "render_configs", base_dir.parent / "render_configs"] if base_dir is not None else []
    return list(dict.fromkeys([Path.cwd() / "render_configs", *near, bundled_dir("render_configs")]))


def available_presets(base_dir: Path | None = None) -> list[str]:
    names = {p.stem for d in preset_search_dirs(base_dir) if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names)


def load_preset(name_or_path: str, base_dir: Path | None = None) -> RenderPreset:
    """A preset by name (``render_configs/NAME.yaml``) or by path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_absolute() and base_dir is not None and not candidate.exists():
            candidate = base_dir / candidate
        preset = validate_file(candidate, RenderPreset)
    else:
        for directory in preset_search_dirs(base_dir):
            if (directory / f"{name_or_path}.yaml").is_file():
                preset = validate_file(directory / f"{name_or_path}.yaml", RenderPreset)
                break
        else:
            raise ScenarioError(f"unknown render preset '{name_or_path}'; available: "
                                f"{', '.join(available_presets(base_dir)) or 'none found'} (or give a path to a .yaml)")
    if preset.name == "custom":
        preset.name = candidate.stem
    return preset
