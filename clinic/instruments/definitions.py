"""An instrument as data: what a definition holds, how it is checked, and how answers are scored.

Pure functions, no database, no request. A definition is the JSON kept in `instrument_version`
(loaded by a migration, or added by a clinician): its items with their answer options or entered
range, the scoring rule, bands or risk levels, flag rules, when it is taken, its LOINC codes and
its licence note. A score is only the sum the instrument defines (or the total as entered).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clinic.field_errors import FieldError


class DefinitionError(FieldError):
    """A definition (or a set of answers) the record cannot take; `field` names what is wrong."""


class Timing(enum.StrEnum):
    """When an instrument is valid: its questions decide it, not the form."""

    ONCE_BEFORE_DOSING = "once_before_dosing"  # asks about the last weeks: once per visit
    BEFORE_AND_AFTER = "before_and_after"
    AT_PEAK = "at_peak"  # e.g. dissociation at its peak
    WHEN_TRIGGERED = "when_triggered"  # e.g. C-SSRS after a positive PHQ-9 item 9

    @property
    def label(self) -> str:
        return {
            "once_before_dosing": "once per visit, before dosing",
            "before_and_after": "before and after dosing",
            "at_peak": "at the dissociation peak",
            "when_triggered": "when triggered",
        }[self.value]


class Scoring(enum.StrEnum):
    SUM = "sum"  # the total is the sum of the item answers
    ENTERED_TOTAL = "entered_total"  # domains and total as entered (licensed instruments)


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class Item:
    number: int
    name: str  # the form field's name, e.g. "item9"
    text: str
    options: tuple[Option, ...]  # empty for an entered number (minimum..maximum)
    minimum: int = 0
    maximum: int = 0
    required: bool = True
    # Asked only when another item has this answer (C-SSRS 3 to 5 follow a yes to 2).
    asked_if: tuple[int, int] | None = None
    loinc: str | None = None
    scale_text: str = ""  # the answers in words, e.g. "0 (no pain) to 10 (worst imaginable)"

    @property
    def values(self) -> tuple[int, ...]:
        if self.options:
            return tuple(option.value for option in self.options)
        return tuple(range(self.minimum, self.maximum + 1))

    @property
    def highest(self) -> int:
        return max(self.values)

    @property
    def allowed(self) -> str:
        """The answers in words: "0 to 3", "0 (No) or 1 (Yes)"."""
        if self.scale_text:
            return self.scale_text
        values = self.values
        if len(values) > 2 and values == tuple(range(values[0], values[-1] + 1)):
            return f"{values[0]} to {values[-1]}"
        return " or ".join(f"{o.value} ({o.label})" for o in self.options)


@dataclass(frozen=True)
class Band:
    floor: int
    label: str


@dataclass(frozen=True)
class Level:
    """A level reached when any of `items` is answered above 0 (the first listed wins)."""

    label: str
    items: tuple[int, ...]


@dataclass(frozen=True)
class FlagRule:
    item: int
    above: int
    label: str
    requires: str | None = None  # an instrument this flag makes due before discharge


@dataclass(frozen=True)
class Assessment:
    """A clinician's note the instrument is recorded with (C-SSRS)."""

    label: str
    required: bool = True


@dataclass(frozen=True)
class Definition:
    code: str
    name: str
    stem: str
    items: tuple[Item, ...]
    scoring: Scoring
    timing: Timing
    licence: str
    bands: tuple[Band, ...] = ()
    levels: tuple[Level, ...] = ()
    no_level: str = ""
    flags: tuple[FlagRule, ...] = ()
    total_item: str | None = None  # ENTERED_TOTAL: the item that holds the total
    maximum_total: int = 0
    loinc_panel: str | None = None
    loinc_total: str | None = None
    remission_below: int | None = None
    assessment: Assessment | None = None

    def item(self, number: int) -> Item:
        return next(item for item in self.items if item.number == number)

    def band(self, total: int, answers: list[int | None]) -> str | None:
        if self.levels:
            for level in self.levels:
                if any((answers[number - 1] or 0) > 0 for number in level.items):
                    return level.label
            return self.no_level or None
        label = None
        for band in self.bands:
            if total >= band.floor:
                label = band.label
        return label

    def flagged(self, answers: list[int | None]) -> list[FlagRule]:
        return [rule for rule in self.flags if (answers[rule.item - 1] or 0) > rule.above]


@dataclass(frozen=True)
class Scored:
    answers: list[int | None]  # in item order; None where an item was not asked
    total: int
    band: str | None
    flags: list[FlagRule]

    @property
    def risk_flag(self) -> bool:
        return bool(self.flags)


def unknown_instrument(code: str) -> Definition:
    """What a score names when no instrument has its code: no items, no bands, no flags."""
    return Definition(
        code=code,
        name=f"Unknown instrument ({code})",
        stem="",
        items=(),
        scoring=Scoring.SUM,
        timing=Timing.BEFORE_AND_AFTER,
        licence="",
    )


CODE_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
TEXT_MAX = 1000


def _text(data: Mapping[str, Any], key: str, field: str, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > TEXT_MAX:
        raise DefinitionError(f"{field}: give a text of at most {TEXT_MAX} characters.", field)
    return value.strip()


def _whole(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DefinitionError(f"{field}: give a whole number.", field)
    return value


def parse_definition(data: Any) -> Definition:
    """A definition from its stored JSON, checked as a whole: refused with the part at fault."""
    if not isinstance(data, Mapping):
        raise DefinitionError("A definition is a JSON object.", "definition")
    code = _text(data, "code", "code")
    if not set(code) <= CODE_CHARACTERS or len(code) > 24:
        raise DefinitionError("code: lower-case letters, digits and _, at most 24.", "code")
    try:
        scoring = Scoring(data.get("scoring"))
        timing = Timing(data.get("timing"))
    except ValueError as error:
        raise DefinitionError(f"scoring or timing: {error}", "definition") from error
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise DefinitionError("items: list at least one item.", "items")
    items = tuple(_item(raw, number) for number, raw in enumerate(raw_items, start=1))
    if len({item.name for item in items}) != len(items):
        raise DefinitionError("items: two items share a name.", "items")
    for item in items:
        if item.asked_if and not 1 <= item.asked_if[0] < item.number:
            raise DefinitionError(f"item {item.number}: asked_if names no earlier item.", "items")
    bands = tuple(
        Band(_whole(floor, "bands"), str(label)) for floor, label in data.get("bands", [])
    )
    levels = tuple(
        Level(str(level["label"]), tuple(_whole(n, "levels") for n in level["items"]))
        for level in data.get("levels", [])
    )
    flags = tuple(
        FlagRule(
            _whole(rule["item"], "flags"),
            _whole(rule.get("above", 0), "flags"),
            str(rule["label"]),
            rule.get("requires"),
        )
        for rule in data.get("flags", [])
    )
    for number in [n for level in levels for n in level.items] + [r.item for r in flags]:
        if not 1 <= number <= len(items):
            raise DefinitionError(f"No item {number} for a level or flag.", "items")
    total_item = data.get("total_item")
    if scoring == Scoring.ENTERED_TOTAL and total_item not in {item.name for item in items}:
        raise DefinitionError("total_item: name the item that holds the entered total.", "items")
    if scoring == Scoring.SUM:
        maximum = sum(item.highest for item in items)
    else:
        maximum = next(item.maximum for item in items if item.name == total_item)
    assessment = data.get("assessment")
    remission = data.get("remission_below")
    return Definition(
        code=code,
        name=_text(data, "name", "name"),
        stem=_text(data, "stem", "stem", required=False),
        items=items,
        scoring=scoring,
        timing=timing,
        licence=_text(data, "licence", "licence"),
        bands=bands,
        levels=levels,
        no_level=str(data.get("no_level", "")),
        flags=flags,
        total_item=total_item,
        maximum_total=maximum,
        loinc_panel=data.get("loinc_panel"),
        loinc_total=data.get("loinc_total"),
        remission_below=None if remission is None else _whole(remission, "remission_below"),
        assessment=(
            Assessment(str(assessment["label"]), bool(assessment.get("required", True)))
            if assessment
            else None
        ),
    )


def _item(raw: Any, number: int) -> Item:
    field = f"item {number}"
    if not isinstance(raw, Mapping):
        raise DefinitionError(f"{field}: an item is a JSON object.", "items")
    options = tuple(
        Option(_whole(value, field), str(label)) for value, label in raw.get("options", [])
    )
    if not options:
        minimum = _whole(raw.get("minimum"), field)
        maximum = _whole(raw.get("maximum"), field)
        if not 0 <= minimum < maximum <= 1000:
            raise DefinitionError(f"{field}: minimum below maximum, 0 to 1000.", "items")
    else:
        minimum = maximum = 0
        if len({option.value for option in options}) != len(options):
            raise DefinitionError(f"{field}: two options share a value.", "items")
    asked_if = raw.get("asked_if")
    name = raw.get("name") or f"item{number}"
    if not isinstance(name, str) or not name.isidentifier() or len(name) > 30:
        raise DefinitionError(f"{field}: a name is letters, digits and _.", "items")
    return Item(
        number=number,
        name=name,
        text=_text(raw, "text", field),
        options=options,
        minimum=minimum,
        maximum=maximum,
        required=bool(raw.get("required", True)),
        asked_if=((_whole(asked_if[0], field), _whole(asked_if[1], field)) if asked_if else None),
        loinc=raw.get("loinc"),
        scale_text=str(raw.get("scale_text", "")),
    )


def score_answers(definition: Definition, given: Mapping[str, int | None]) -> Scored:
    """Check each answer against its item and score them: refused next to the item at fault."""
    names = {item.name for item in definition.items}
    for name in given:
        if name not in names:
            raise DefinitionError(f"The {definition.name} has no item {name}.", name)
    answers: list[int | None] = []
    for item in definition.items:
        value = given.get(item.name)
        if item.asked_if is not None:
            asked_item, asked_answer = item.asked_if
            if answers[asked_item - 1] != asked_answer:
                if value is not None:
                    raise DefinitionError(
                        f"Item {item.number} is asked only when item {asked_item} is "
                        f"answered {asked_answer}: leave it blank.",
                        item.name,
                    )
                answers.append(None)
                continue
        if value is None:
            if item.required:
                raise DefinitionError(f"Answer this item ({item.allowed}).", item.name)
            answers.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value not in item.values:
            raise DefinitionError(f"Not an answer to this item: {item.allowed}.", item.name)
        answers.append(value)
    if definition.scoring == Scoring.SUM:
        total = sum(answer or 0 for answer in answers)
    else:
        index = next(
            i for i, item in enumerate(definition.items) if item.name == definition.total_item
        )
        entered = answers[index]
        if entered is None:
            raise DefinitionError("Enter the total.", definition.total_item)
        total = entered
    return Scored(answers, total, definition.band(total, answers), definition.flagged(answers))
