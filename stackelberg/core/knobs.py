"""Each config knob declared once: `knob(default, doc, ...)` is a dataclass field whose metadata
says what the knob may be (limits, choices), whether a resume may change it, whether a run's
record keeps it and whether comparisons of runs look at it. Validation, the resume rules,
sweeps and the report read these facts from the field (`KnobInfo.of`), so a new knob is written
in one place. Plain dataclasses and no torch: every settings class imports this module.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import math
from typing import Any, Callable, Optional, Sequence, Union

from stackelberg.core.errors import UserInputError

_KEY = "stackelberg"
_NO_VALUE = object()

#: a fixed list of choices, or a function that gives the current ones (say, the registered tasks)
Choices = Union[Sequence[str], Callable[[], Sequence[str]]]


@dataclass(frozen=True)
class KnobInfo:
    """What a knob's field declares besides its type and default."""

    doc: str = ""
    #: interval ("[0, 1]", "(0, 1]") or bound (">= 1", "> 0"); a list field: every entry
    limits: Optional[str] = None
    choices: Optional[Choices] = None
    #: a resume may change it: it is read afresh every iteration and leaves every array of the
    #: checkpoint valid (a budget, a step size, how often to save)
    resumable: bool = False
    #: kept in the run's record (config.toml, checkpoint); a folder's own path is not
    recorded: bool = True
    #: a budget or a machine setting: a sweep does not compare it with a folder's record, and
    #: a resume that changes it is not logged
    incidental: bool = False
    #: how the run was carried out or stored, not what was run: the report does not group by it
    bookkeeping: bool = False
    #: the value a record written before the knob existed ran with, if not today's default
    saved_without: Any = _NO_VALUE

    @staticmethod
    def of(f: dataclasses.Field) -> "KnobInfo":
        info = f.metadata.get(_KEY)
        return info if isinstance(info, KnobInfo) else KnobInfo()

    def current_choices(self) -> Optional[Sequence[str]]:
        return self.choices() if callable(self.choices) else self.choices

    @property
    def has_saved_without(self) -> bool:
        return self.saved_without is not _NO_VALUE


def knob(default: Any, doc: str = "", *, limits: Optional[str] = None,
         choices: Optional[Choices] = None, resumable: bool = False, recorded: bool = True,
         incidental: bool = False, bookkeeping: bool = False,
         saved_without: Any = _NO_VALUE) -> Any:
    """A dataclass field with its knob facts (see `KnobInfo`); `default` may be any immutable
    value (tuples for lists)."""
    info = KnobInfo(doc=doc, limits=limits, choices=choices, resumable=resumable,
                    recorded=recorded, incidental=incidental, bookkeeping=bookkeeping,
                    saved_without=saved_without)
    return dataclasses.field(default=default, metadata={_KEY: info})


def knobs(section: Any) -> list[tuple[dataclasses.Field, KnobInfo]]:
    """The fields of a settings dataclass (class or instance) with their facts."""
    return [(f, KnobInfo.of(f)) for f in dataclasses.fields(section)]


def within(value: float, limit: str) -> bool:
    """`value` satisfies a limit written as ">= 1", "> 0", "[0, 1]" or "(0, 1]"."""
    text = limit.replace(" ", "")
    if text[0] in "<>":
        op = text[:2] if text[1] == "=" else text[0]
        bound = float(text[len(op):])
        return {">": value > bound, ">=": value >= bound, "<": value < bound,
                "<=": value <= bound}[op]
    low, high = (float(x) for x in text[1:-1].split(","))
    return (value >= low if text[0] == "[" else value > low) and \
        (value <= high if text[-1] == "]" else value < high)


def shown(value: Any, width: int = 60) -> str:
    """`repr(value)`, cut to `width` characters: a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


_INT64 = (-2**63, 2**63 - 1)


def check_field(key: str, value: Any, info: KnobInfo) -> None:
    """One field's value against its declared limits and choices (its type is checked)."""
    if value is None:
        return
    limit, choices = info.limits, info.current_choices()
    several = isinstance(value, tuple)
    what = f"every entry of {key}" if several else key
    if several and not value and key.endswith("hidden_sizes"):
        raise UserInputError(f"{key} needs at least one layer size, got []")
    for item in value if several else (value,):
        if isinstance(item, str):
            if choices is not None and item not in choices:
                raise UserInputError(f"{key} must be one of {', '.join(choices)}, got {shown(item)}")
            if has_control_characters(item):
                raise UserInputError(f"{what} must be text without control characters, "
                                     f"got {shown(item)}")
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            if isinstance(item, float) and not math.isfinite(item):
                raise UserInputError(f"{what} must be finite, got {item!r}")
            if isinstance(item, int) and not _INT64[0] <= item <= _INT64[1]:
                raise UserInputError(f"{what} must fit in 64 bits, got {shown(item)}")
            if limit is not None and not within(item, limit):
                bound = f"in {limit}" if limit[0] in "[(" else limit
                raise UserInputError(f"{what} must be {bound}, got {item!r}")


def has_control_characters(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def check_rules(name: str, section: Any) -> None:
    """The rules a settings class states between its fields (its `rules()` method, if any):
    a `UserInputError` naming the first that does not hold."""
    rules = getattr(section, "rules", None)
    failed = next((message for ok, message in rules() if not ok), None) if callable(rules) else None
    if failed is not None:
        raise UserInputError(f"{name}.{failed}")


def check_settings(name: str, section: Any) -> None:
    """A settings object made in Python (not through a config): every field's limits and
    choices, then the rules between fields; a `UserInputError` naming `name.field`."""
    for f, info in knobs(section):
        check_field(f"{name}.{f.name}", getattr(section, f.name), info)
    check_rules(name, section)


def redefault(cls: type, name: str, default: Any) -> Any:
    """The field `name` of the settings class `cls` with another default, for a subclass: the
    knob keeps its facts (limits, resume rule, doc), declared once on `cls`."""
    original = next(f for f in dataclasses.fields(cls) if f.name == name)
    return dataclasses.field(default=default, metadata=original.metadata)
