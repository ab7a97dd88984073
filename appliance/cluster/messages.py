"""What travels between appliances, and the checks a received message must pass.

Subjects and keys (docs/cluster.md):
- `siaga.fact.<site>.<appliance>`: a verdict or challenge outcome (stream `SIAGA_FACTS`);
- `siaga.call.<site>.<appliance>`: an ended call's record (stream `SIAGA_CALLS`);
- `siaga.event.<site>.<appliance>`: an event, alarms included (stream `SIAGA_EVENTS`);
- `siaga.callback.<site>.<appliance>`: an entry of the call-back list as it now is, new,
  one attempt more or marked (stream `SIAGA_CALLBACKS`), for the province hub;
- key `<site>.<rule id>` of the key-value bucket `siaga_rules`: a rule, removal included;
- key `<rule id>` of the bucket `siaga_province_rules`: a rule of the whole province,
  made at the hub (`province`);
- key `<site>.<section>` of the bucket `siaga_settings`: a section of the site's screening
  settings (`policy`, `challenge`, `prompts`, `sms`), its overrides or null once removed.

Nothing received is trusted: a message that is not JSON, lacks a field, carries a number
that is not E.164 or a verdict no centre uses, or claims another appliance than the one its
subject names, is refused with a reason (logged and skipped by the agent, never applied).
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from appliance.model import ChallengeResult, is_well_formed_disposition
from appliance.rules import MATCH_KINDS, RULE_KINDS
from appliance.settings import LIVE_SECTIONS
from appliance.store.callbacks import NOTE_MAX_CHARS, OPEN
from appliance.store.rules import rule_from_row

FACTS_STREAM = "SIAGA_FACTS"
CALLS_STREAM = "SIAGA_CALLS"
EVENTS_STREAM = "SIAGA_EVENTS"
CALLBACKS_STREAM = "SIAGA_CALLBACKS"
RULES_BUCKET = "siaga_rules"
PROVINCE_RULES_BUCKET = "siaga_province_rules"
SETTINGS_BUCKET = "siaga_settings"
PROVINCE_ORIGIN_PREFIX = "province/"
RULE_HISTORY = 10  # revisions of each rule a bucket keeps (of each settings section too)
NAME = r"[a-z0-9][a-z0-9_-]{0,31}"
E164 = re.compile(r"\+[1-9][0-9]{5,14}")
RULE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_MESSAGE_BYTES = 16_384
REASON_WORD = r"[a-z][a-z0-9_]{0,39}"  # a call-back's reason, as the box's store takes it


def _e164_number(value: str) -> str:
    if not E164.fullmatch(value):
        raise ValueError("not an E.164 number")
    return value


def _a_time(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError("not a time")
    return value


E164Number = Annotated[str, AfterValidator(_e164_number)]  # a caller, checked
Time = Annotated[float, AfterValidator(_a_time)]  # seconds since the epoch, finite, positive


class MessageRefused(ValueError):
    """A received message that must not be applied; the text says why."""


def fact_subject(site: str, appliance: str) -> str:
    return f"siaga.fact.{site}.{appliance}"


def call_subject(site: str, appliance: str) -> str:
    return f"siaga.call.{site}.{appliance}"


def event_subject(site: str, appliance: str) -> str:
    return f"siaga.event.{site}.{appliance}"


def callback_subject(site: str, appliance: str) -> str:
    return f"siaga.callback.{site}.{appliance}"


def rule_key(site: str, rule_id: str) -> str:
    return f"{site}.{rule_id}"


def setting_key(site: str, section: str) -> str:
    return f"{site}.{section}"


def province_rule_key(rule_id: str) -> str:
    return rule_id


def province_origin(hub: str) -> str:
    """The `origin` a province rule carries on an appliance: `province/<hub>`. No appliance
    can be so named (`NAME` has no `/`), so a site's box can never pass its rule off as
    the province's, nor the province's as its own."""
    return f"{PROVINCE_ORIGIN_PREFIX}{hub}"


def is_province_origin(origin: object) -> bool:
    return isinstance(origin, str) and origin.startswith(PROVINCE_ORIGIN_PREFIX)


def message_id(site: str, appliance: str, outbox_id: int) -> str:
    """Stable across re-sends: the server drops a second copy within its duplicate window,
    and receivers ignore one that arrives later (each keeps (origin, seq) once)."""
    return f"{site}.{appliance}.{outbox_id}"


def callback_revision(attempts: int, status: str) -> int:
    """The revision of a call-back entry's state: it grows with every change that counts.
    An entry's attempts only ever grow while it is open, and a mark closes it for good
    (the caller's next release opens a new entry), so twice the attempts, plus one once
    marked, orders every state of one entry. The outbox trigger computes the same in SQL
    (`appliance.cluster.schema.callback_payload`)."""
    return 2 * attempts + (status != OPEN)


def callback_message_id(site: str, appliance: str, entry_id: int, revision: int) -> str:
    """One state of one entry: a re-send of it is dropped by the server within its
    duplicate window, while the entry's next state, a new revision, is not."""
    return f"{site}.{appliance}.callback.{entry_id}.{revision}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FactMessage(_Strict):
    """A verdict (`genuine:<kind>`, prank, ghost...), a verdict withdrawn (`withdrawn`,
    the earlier verdict an operator replaced on a call), a challenge outcome, or a
    call-back served (`callback`, value `done`: an operator reached the caller) on a
    number; or the appliance's own flood mode (`flood`, value `on` or `off`, no caller)."""

    origin: str = Field(pattern=f"^{NAME}$")
    seq: int = Field(ge=1)
    kind: Literal["verdict", "withdrawn", "challenge", "callback", "flood"]
    caller: E164Number | None = None
    value: str
    ts: Time
    call: int | None = None

    def checked(self) -> FactMessage:
        """Self, once the value fits the kind; raises `MessageRefused` if it does not."""
        if (self.kind == "flood") != (self.caller is None):
            raise MessageRefused("a flood fact has no caller, every other fact one")
        if self.kind == "flood" and self.value not in ("on", "off"):
            raise MessageRefused(f"unknown flood state {self.value[:40]!r}")
        verdict = self.kind in ("verdict", "withdrawn")
        if verdict and not is_well_formed_disposition(self.value):
            raise MessageRefused(f"unknown verdict {self.value[:40]!r}")
        if self.kind == "challenge" and self.value not in {r.value for r in ChallengeResult}:
            raise MessageRefused(f"unknown challenge result {self.value[:40]!r}")
        if self.kind == "callback" and self.value != "done":
            raise MessageRefused(f"unknown call-back outcome {self.value[:40]!r}")
        return self


class CallMessage(_Strict):
    """An ended call's record as the hub keeps it (the contract's columns, checked)."""

    origin: str = Field(pattern=f"^{NAME}$")
    seq: int = Field(ge=1)
    id: int = Field(ge=1)
    line: str = Field(min_length=1, max_length=64)
    caller: E164Number | None = None
    number_class: Literal["number", "withheld", "unavailable", "unparseable"]
    started_at: str = Field(max_length=40)
    started_ts: Time
    decision: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=40)
    rule: str | None = Field(default=None, max_length=64)
    challenge_result: str | None = Field(default=None, max_length=40)
    reached_operator: int = Field(default=0, ge=0, le=1)
    operator_ts: Time | None = None
    ended_ts: Time | None = None
    end_cause: str | None = Field(default=None, max_length=40)
    interrupted: int = Field(default=0, ge=0, le=1)
    disposition: str | None = Field(default=None, max_length=64)
    disposition_ts: Time | None = None
    line_seconds: float | None = Field(default=None, ge=0)
    voice_heard: int | None = Field(default=None, ge=0, le=1)
    desk: str | None = Field(default=None, max_length=64)
    time_trusted: int | None = Field(default=None, ge=0, le=1)

    @field_validator("disposition")
    @classmethod
    def _verdict(cls, value: str | None) -> str | None:
        if value is not None and not is_well_formed_disposition(value):
            raise ValueError("unknown verdict")
        return value


class EventMessage(_Strict):
    """An event of an appliance (`events` row): alarms, changes, recoveries."""

    origin: str = Field(pattern=f"^{NAME}$")
    seq: int = Field(ge=1)
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    line: str | None = Field(default=None, max_length=64)
    ts: Time
    detail: str | None = Field(default=None, max_length=8000)


class CallbackMessage(_Strict):
    """An entry of a box's call-back list as it now is (`callbacks` row), for the hub.

    Checked as closely as the box's own table checks it: an E.164 number, a reason that
    is a machine word (a box of a later version may give reasons this one has no words
    for; the hub shows them as they are, as the box's own list does), a known status, real
    times, bounded text, and a revision that is the one its attempts and status give."""

    origin: str = Field(pattern=f"^{NAME}$")
    seq: int | None = Field(default=None, ge=1)
    id: int = Field(ge=1)
    revision: int = Field(ge=2)
    caller: E164Number
    caller_raw: str | None = Field(default=None, max_length=100)
    line: str | None = Field(default=None, max_length=64)
    call_id: int | None = Field(default=None, ge=0)
    reason: str = Field(pattern=f"^{REASON_WORD}$")
    detail: dict[str, Any] = Field(default_factory=dict)
    first_ts: Time
    last_ts: Time
    attempts: int = Field(ge=1, le=1_000_000)
    status: Literal["open", "done", "unreachable", "dismissed"]  # CALLBACK_STATUSES
    status_ts: Time | None = None
    status_by: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=NOTE_MAX_CHARS)

    @field_validator("detail")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not _all_finite(value):
            raise ValueError("a number that is not finite")
        return value

    def checked(self) -> CallbackMessage:
        """Self, once its parts agree; raises `MessageRefused` if they do not."""
        if self.revision != callback_revision(self.attempts, self.status):
            raise MessageRefused(
                f"revision {self.revision} is not that of {self.attempts} attempt(s), {self.status}"
            )
        if (self.status == OPEN) != (self.status_ts is None):
            raise MessageRefused(f"status {self.status} with status_ts {self.status_ts}")
        if self.last_ts < self.first_ts:
            raise MessageRefused("last release before the first")
        return self


class SettingVersion(_Strict):
    """One version of a settings section: its overrides (None: removed, each box on its
    configuration file for that section), when and by whom they were set, and the
    appliance they were set on."""

    value: dict[str, Any] | None
    updated_ts: Time
    updated_by: str | None = Field(default=None, max_length=200)
    origin: str = Field(pattern=f"^{NAME}$")

    @field_validator("value")
    @classmethod
    def _finite(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and not _all_finite(value):
            raise ValueError("a number that is not finite")
        return value

    def version(self) -> dict[str, Any]:
        """This version alone, as a JSON object."""
        return {name: getattr(self, name) for name in SettingVersion.model_fields}


class SettingMessage(SettingVersion):
    """A section of the site's screening settings as the bucket holds it. A box that
    settled a conflict names itself (`resolved_by`) and the version that lost
    (`overruled`), so the box whose edit lost learns of it too."""

    section: str
    overruled: SettingVersion | None = None
    resolved_by: str | None = Field(default=None, pattern=f"^{NAME}$")

    @field_validator("section")
    @classmethod
    def _live(cls, value: str) -> str:
        if value not in LIVE_SECTIONS:
            raise ValueError("not a section that can change while running")
        return value


def _all_finite(value: Any) -> bool:
    """No NaN or infinity anywhere in a decoded JSON value (Python's `json` reads them)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_all_finite(item) for item in value)
    return True


def decode_setting(key: str, site: str, data: bytes) -> SettingMessage:
    """A settings section from the site's bucket; refused unless it is one of the sections
    that change while running, under this site's key for it, with a JSON object (or null)
    as its value. Whether this box's line service can use the value is checked when it
    is applied (`store.apply_settings`)."""
    try:
        setting = SettingMessage.model_validate(decode_json(data))
    except ValidationError as exc:
        raise MessageRefused(_first_error(exc)) from None
    if key != setting_key(site, setting.section):
        raise MessageRefused(f"section {setting.section!r} stored under key {key[:80]!r}")
    return setting


def decode_event(subject: str, data: bytes) -> tuple[str, EventMessage]:
    """(site, the event) from `siaga.event.<site>.<appliance>`."""
    site, event = _decode(EventMessage, subject, "event", data)
    return site, event


def decode_call(subject: str, data: bytes) -> tuple[str, str, dict[str, Any]]:
    """(site, appliance, the call) from `siaga.call.<site>.<appliance>`."""
    site, call = _decode(CallMessage, subject, "call", data)
    return site, call.origin, call.model_dump(exclude={"origin", "seq"})


def decode_callback(subject: str, data: bytes) -> tuple[str, CallbackMessage]:
    """(site, the entry) from `siaga.callback.<site>.<appliance>`; its origin must be that
    appliance."""
    site, entry = _decode(CallbackMessage, subject, "callback", data)
    return site, entry.checked()


_Message = TypeVar("_Message", FactMessage, CallMessage, EventMessage, CallbackMessage)


def _decode(model: type[_Message], subject: str, family: str, data: bytes) -> tuple[str, _Message]:
    """(site, the message) from `siaga.<family>.<site>.<appliance>`; the message must name
    the appliance of its subject as its origin (a box cannot speak for another)."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[:2] != ["siaga", family]:
        raise MessageRefused(f"not a {family} subject: {subject[:80]!r}")
    try:
        message = model.model_validate(decode_json(data))
    except ValidationError as exc:
        raise MessageRefused(_first_error(exc)) from None
    if message.origin != parts[3]:
        raise MessageRefused(f"origin {message.origin!r} sent on {parts[3]!r}'s subject")
    return parts[2], message


def decode_json(data: bytes) -> dict[str, Any]:
    """The message body as a JSON object, or `MessageRefused`."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageRefused(f"{len(data)} bytes, more than {MAX_MESSAGE_BYTES}")
    try:
        decoded = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageRefused(f"not JSON: {exc}") from None
    if not isinstance(decoded, dict):
        raise MessageRefused("not a JSON object")
    return decoded


def decode_fact(subject: str, data: bytes) -> FactMessage:
    """A fact from `siaga.fact.<site>.<appliance>`; its origin must be that appliance."""
    return _decode(FactMessage, subject, "fact", data)[1].checked()


def decode_rule(key: str, site: str, data: bytes) -> dict[str, Any]:
    """A rule from the site's bucket, as a `rules` row; refused unless it would screen
    correctly."""
    rule = decode_json(data)
    rule_id = _rule_id(rule)
    if key != rule_key(site, rule_id):
        raise MessageRefused(f"rule {rule_id!r} stored under key {key[:80]!r}")
    return _checked_rule(rule)


def decode_province_rule(key: str, data: bytes) -> dict[str, Any]:
    """A rule from the province's bucket (key: its id), as a `rules` row whose origin says
    it is the province's (`province_origin`); refused unless it would screen correctly."""
    rule = decode_json(data)
    rule_id = _rule_id(rule)
    if key != province_rule_key(rule_id):
        raise MessageRefused(f"rule {rule_id!r} stored under key {key[:80]!r}")
    checked = _checked_rule(rule)
    return {**checked, "origin": province_origin(checked["origin"])}


def _rule_id(rule: dict[str, Any]) -> str:
    rule_id = rule.get("id")
    if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
        raise MessageRefused("rule without a valid id")
    return rule_id


def _checked_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """The rule, once it fits the rules table; raises `MessageRefused` if it does not."""
    if rule.get("kind") not in RULE_KINDS or rule.get("match") not in MATCH_KINDS:
        raise MessageRefused("rule kind or match unknown")
    if not isinstance(rule.get("pattern"), str) or not re.fullmatch(
        r"\+[0-9]{1,15}", rule["pattern"]
    ):
        raise MessageRefused("rule pattern is not an E.164 number or prefix")
    origin = rule.get("origin")
    if not isinstance(origin, str) or not re.fullmatch(NAME, origin):
        raise MessageRefused("rule without a valid origin")
    try:
        rule_from_row(rule)
        _optional_time(rule, "removed_ts")
    except (KeyError, TypeError, ValueError) as exc:
        raise MessageRefused(f"rule does not fit the rules table: {exc}") from None
    return rule


def _optional_time(rule: dict[str, Any], key: str) -> None:
    value = rule.get(key)
    if value is not None and not (isinstance(value, int | float) and math.isfinite(value)):
        raise ValueError(f"{key}: not a time")


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "message"
    return f"{where}: {first['msg']}"
