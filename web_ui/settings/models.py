"""The screening settings API's input and output models.

`PATCH /api/settings` takes overrides in the configuration's own shape
(`{"policy": {"throttle": {"max_calls": 2}}}`); every key may be left out (unchanged),
and `reset` names settings to give back to the configuration file (a section such as
`"policy"`, a table such as `"policy.throttle"`, or one key). The models repeat the
configuration's bounds, so the document tells a client what is allowed and a fuzzed
request is refused before it is looked at; `appliance.settings.effective_config` has
the last word on every change. Durations are seconds, at most ten years.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from appliance.config import NoNumberAction, RestrictAction, UnverifiedHandling
from web_ui.core.models import ErrorPublic, InputModel
from web_ui.settings.form import MAX_COUNT, MAX_LADDER_STEPS, MAX_PROMPT_CHARS, MAX_SECONDS
from web_ui.settings.service import BaseSource, LineServiceStatus

Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, description="seconds")]
SecondsOrZero = Annotated[float, Field(ge=0, le=MAX_SECONDS, description="seconds; 0 turns it off")]
Count = Annotated[int, Field(gt=0, le=MAX_COUNT)]
CountOrZero = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Share = Annotated[float, Field(gt=0, le=1, description="a share of 1 (0.5: half)")]
PromptWords = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS)]
HangUpReason = Literal[
    "abuse",
    "blocklist",
    "flood",
    "throttle",
    "no_history",
    "withheld",
    "unavailable",
    "unparseable",
]
SettingName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[a-z_]+(\.[a-z_]+)*$",
        examples=["policy.throttle.max_calls", "prompts.id", "sms"],
    ),
]


class PatchModel(InputModel):
    """A part of a change: unknown keys are an error, infinities and NaN too."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ThrottlePatch(PatchModel):
    """`policy.throttle`: repeat calls."""

    max_calls: Count | None = None
    window_s: Seconds | None = None
    action: RestrictAction | None = None


class LadderStepIn(PatchModel):
    """One step of the abuse ladder (`within_s` left out: the configuration's default)."""

    count: Count
    within_s: Seconds | None = None
    restrict_s: Seconds
    flag_supervisor: bool = False


class AbusePatch(PatchModel):
    """`policy.abuse`: the ladder (replaced whole), its action, the immunity and the
    reputation (0 as its threshold switches it off)."""

    ladder: list[LadderStepIn] | None = Field(default=None, max_length=MAX_LADDER_STEPS)
    action: RestrictAction | None = None
    immunity_s: Seconds | None = None
    reputation_half_life_s: Seconds | None = None
    reputation_threshold: Annotated[float, Field(ge=0, le=MAX_COUNT)] | None = None


class FloodPatch(PatchModel):
    """`policy.flood`: when flood mode starts, what it blocks, which lines it keeps free,
    when it ends."""

    enabled: bool | None = None
    rate_window_s: Seconds | None = None
    max_calls_in_window: Count | None = None
    saturation_s: Seconds | None = None
    saturation_occupancy: Share | None = None
    reseize_s: Seconds | None = None
    reseize_min: CountOrZero | None = None
    waiting_min_calls: Count | None = None
    new_numbers_min: Count | None = None
    number_min_calls: Count | None = None
    block_prefix_digits: Annotated[int, Field(ge=1, le=10)] | None = None
    block_min_share: Share | None = None
    block_min_calls: Count | None = None
    block_min_numbers: Annotated[int, Field(ge=2, le=MAX_COUNT)] | None = None
    withheld_min_calls: Count | None = None
    withheld_min_share: Share | None = None
    reserve_lines: CountOrZero | None = None
    redial_window_s: Seconds | None = None
    short_challenge_free_lines: CountOrZero | None = None
    quiet_s: Seconds | None = None


class PolicyPatch(PatchModel):
    """`policy`: every threshold of the screening policy."""

    throttle: ThrottlePatch | None = None
    abuse: AbusePatch | None = None
    flood: FloodPatch | None = None
    withheld_action: NoNumberAction | None = None
    unavailable_action: NoNumberAction | None = None
    unparseable_action: NoNumberAction | None = None
    good_history_s: Seconds | None = None
    challenge_unknown: bool | None = None
    junk_evidence_s: Seconds | None = None
    heard_after_unheard_s: SecondsOrZero | None = None


class ChallengePatch(PatchModel):
    """`challenge`: the key, the waits, and what becomes of callers who never press it."""

    key: Annotated[str, Field(pattern=r"^[0-9*#]{1,4}$", max_length=4)] | None = None
    attempts: Annotated[int, Field(ge=1, le=5)] | None = None
    wait_after_prompt_s: Seconds | None = None
    flood_wait_s: Seconds | None = None
    hang_up_unverified_for: list[HangUpReason] | None = Field(default=None, max_length=8)
    warn_reported: bool | None = None
    reported_hold_s: Annotated[float, Field(ge=0, le=300)] | None = None
    unverified_without_evidence: UnverifiedHandling | None = None
    silent_to_idle_operator: bool | None = None


class PromptPatch(PatchModel):
    """The words played to callers in one language, and how long each plays (recordings,
    `*_file`, are named in the configuration file)."""

    challenge: PromptWords | None = None
    flood_challenge: PromptWords | None = None
    connecting: PromptWords | None = None
    announce: PromptWords | None = None
    silent_goodbye: PromptWords | None = None
    reported: PromptWords | None = None
    challenge_seconds: Seconds | None = None
    flood_challenge_seconds: Seconds | None = None
    connecting_seconds: Seconds | None = None
    announce_seconds: Seconds | None = None
    goodbye_seconds: Seconds | None = None
    reported_seconds: Seconds | None = None


class PromptsPatch(PatchModel):
    """`prompts`, by language."""

    id: PromptPatch | None = None
    en: PromptPatch | None = None


class SmsPatch(PatchModel):
    """`sms`: warnings to restricted numbers, and the supervisors' numbers (any form)."""

    enabled: bool | None = None
    warn_restricted: bool | None = None
    warning_text: Annotated[str, Field(min_length=1, max_length=480)] | None = None
    max_per_day: Annotated[int, Field(ge=0, le=MAX_COUNT)] | None = None
    warnings_per_number_s: Seconds | None = None
    supervisors: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=20, examples=[["0812-3456-7890", "+62 813 1111 2222"]]
    )


class SettingsPatch(PatchModel):
    """`PATCH /api/settings`: values to change, and settings to give back to the file."""

    policy: PolicyPatch | None = None
    challenge: ChallengePatch | None = None
    prompts: PromptsPatch | None = None
    sms: SmsPatch | None = None
    reset: list[SettingName] = Field(default_factory=list, max_length=100)

    def changes(self) -> dict[str, Any]:
        """The values set, as JSON-ready nested dicts (left-out keys are not there)."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"reset"})


class SettingsPublic(BaseModel):
    """The screening settings: in force, the file's, and the web UI's overrides."""

    values: dict[str, Any] = Field(
        description="in force: the configuration file with the overrides, per live section"
    )
    base: dict[str, Any] = Field(description="the configuration file's values")
    base_source: BaseSource = Field(
        description="`line_service`: the file the line service last started on; "
        "`defaults`: the line service never ran on this database, the built-in defaults"
    )
    overrides: dict[str, Any] = Field(description="what the web UI stores, by section")
    problems: list[str] = Field(
        description="why the stored overrides do not fit the file (then `values` is the file's)"
    )
    version: int = Field(description="the settings' change counter")
    line_service: LineServiceStatus = Field(
        description="`applied`: the running line service has these settings in force; "
        "`pending`: not yet (it checks every second); `not_running`: no heartbeat for a "
        "minute; `never_ran`: no line service ever ran on this database"
    )
    updated_by: str | None
    updated_at: datetime | None
    changed: list[str] = Field(default=[], description="the settings this request changed")


class SettingProblem(BaseModel):
    """One refused value: where (`loc`, and `field` as the configuration names it) and why."""

    loc: list[str | int]
    msg: str
    field: str | None = None


class SettingsRefusedPublic(ErrorPublic):
    """A change refused: nothing was stored."""

    errors: list[SettingProblem] = []
