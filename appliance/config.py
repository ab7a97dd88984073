"""Siaga's configuration: one TOML file, validated at start-up.

Every setting has a default that suits a small Indonesian 112 centre, so an empty file (or
none at all, for `siaga demo`) is a valid configuration. Validation errors name the key
and the problem (`policy.throttle.max_calls: must be greater than 0`).
"""

from __future__ import annotations

import logging
import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from appliance.model import DEFAULT_GENUINE_KINDS, is_kind

logger = logging.getLogger(__name__)

FamilyName = Literal["auto", "sim800", "sim7600", "ec25", "m95", "huawei", "generic"]
RestrictAction = Literal["challenge", "announce", "reject"]
NoNumberAction = Literal["pass", "challenge"]
RejectMethod = Literal["hangup", "chup", "busy"]
CallWaitingMode = Literal["reject", "ignore"]
Language = Literal["id", "en"]
PositiveSeconds = Annotated[float, Field(gt=0)]
NonNegativeSeconds = Annotated[float, Field(ge=0)]


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


MAX_GENUINE_KINDS = 20  # a console row of buttons an operator can still read at a glance
MAX_KIND_LABEL_CHARS = 40
KIND_RULE = "a lowercase letter, then up to 31 lowercase letters, digits or _"


class SiteConfig(StrictModel):
    """Where the appliance is: its name, region (for numbers), time zone and language, and
    the kinds of genuine call its operators record."""

    name: str = "Siaga 112"
    region: str = Field(default="ID", description="ISO 3166 region for national numbers")
    timezone: str = "Asia/Jakarta"
    language: Language = "id"
    recordings_dir: Path = Field(
        default=Path("/etc/siaga/prompts"),
        description=(
            "where the host keeps prompt recordings (WAV, 8 kHz mono 16-bit) for modems "
            "without a player of their own (Huawei): `*_file` names a file in it"
        ),
    )

    genuine_kinds: tuple[str, ...] = Field(
        default=DEFAULT_GENUINE_KINDS,
        min_length=1,
        max_length=MAX_GENUINE_KINDS,
        description=(
            "the kinds of genuine call the console offers (`genuine:<kind>`), in the order "
            "of its buttons and of the report's columns; keys 1-9 go to the first nine"
        ),
    )
    kind_labels: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "kind -> the name the web UI shows for it in every language; a kind without one "
            "shows the catalogue's name, or its slug with spaces for underscores"
        ),
    )

    @field_validator("genuine_kinds")
    @classmethod
    def _kind_slugs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for kind in value:
            if not is_kind(kind):
                raise ValueError(f"{kind!r} is not a kind ({KIND_RULE})")
        duplicates = sorted({kind for kind in value if value.count(kind) > 1})
        if duplicates:
            raise ValueError(f"kinds must be unique: {', '.join(duplicates)}")
        return value

    @field_validator("kind_labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        # A label may name a kind no longer offered: older calls still carry it.
        labels = {}
        for kind, label in value.items():
            if not is_kind(kind):
                raise ValueError(f"{kind!r} is not a kind ({KIND_RULE})")
            text = label.strip()
            if not text or len(text) > MAX_KIND_LABEL_CHARS:
                raise ValueError(f"{kind}: a label has 1 to {MAX_KIND_LABEL_CHARS} characters")
            labels[kind] = text
        return labels

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        import phonenumbers  # local import: only needed to validate

        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r} (expected an ISO code such as 'ID')")
        return value.upper()


class LineConfig(StrictModel):
    """One modem line: the serial port, the modem family and the operator desk it feeds."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    port: str = Field(min_length=1)
    family: FamilyName = "auto"
    baudrate: int = Field(default=115200, gt=0)
    rtscts: bool = Field(default=False, description="hardware flow control (off on a 3-wire UART)")
    voice_port: str | None = Field(
        default=None,
        description=(
            "the port carrying the call's PCM audio (SIM7600 audio port, EC25 NMEA port, "
            "Huawei voice port): Huawei prompts are played on it, and the line listens on "
            "it for a voice during a challenge"
        ),
    )
    imei: str | None = Field(
        default=None,
        pattern=r"^[0-9]{15}$",
        description=(
            "the modem expected on this port (AT+CGSN); another one raises an alarm at "
            "start (modems swapped between USB slots) and screening goes on"
        ),
    )
    listen: bool = Field(
        default=True,
        description="listen for a voice on `voice_port` while challenging (where it exists)",
    )
    desk: str | None = Field(default=None, description="operator desk alerted for passed calls")
    deflect_to: str | None = Field(default=None, description="deflect passed calls (AT+CTFR)")
    fail_over_to: str | None = Field(
        default=None,
        pattern=r"^\+[1-9][0-9]{5,14}$",
        description=(
            "the centre's backup number (E.164, `+62...`): the line has the network forward "
            "its calls there when the modem does not answer within `fail_over_after_s` or "
            "cannot be reached (AT+CCFC, no reply and not reachable), so calls reach people "
            "while Siaga or its box is down; never on busy, where a flood would follow"
        ),
    )
    fail_over_after_s: int = Field(
        default=30,
        ge=5,
        le=30,
        multiple_of=5,
        description=(
            "seconds a call rings unanswered before the network forwards it (5-30, the "
            "network's steps): longer than an operator takes to pick up a passed call"
        ),
    )
    reject_method: RejectMethod = "hangup"
    call_waiting: CallWaitingMode = Field(
        default="reject",
        description=(
            "a caller who finds this line busy (+CCWA): `reject` releases them busy at "
            "once (they may redial onto a free line); `ignore` leaves them waiting, and "
            "the modem rings their call once this one ends"
        ),
    )
    usb_port: str | None = Field(
        default=None,
        pattern=r"^[0-9]+-[0-9]+(\.[0-9]+)*$",
        description=(
            "the modem's USB port path (`1-1.2`, as under /sys/bus/usb/devices): the last "
            "step of the recovery ladder resets it; without it that step is skipped"
        ),
    )
    enabled: bool = True


class ThrottleConfig(StrictModel):
    """Repeat-call throttling: more than `max_calls` in `window_s` without operator contact."""

    max_calls: int = Field(default=3, gt=0)
    window_s: PositiveSeconds = 600.0
    action: RestrictAction = "challenge"


class LadderStep(StrictModel):
    """One step of the abuse ladder: `count` prank/ghost dispositions within `within_s`."""

    count: int = Field(gt=0)
    within_s: PositiveSeconds = 86_400.0
    restrict_s: PositiveSeconds
    flag_supervisor: bool = False


def _default_ladder() -> tuple[LadderStep, ...]:
    day = 86_400.0
    return (
        LadderStep(count=3, restrict_s=day),
        LadderStep(count=6, restrict_s=3 * day),
        LadderStep(count=10, restrict_s=7 * day, flag_supervisor=True),
    )


class AbuseConfig(StrictModel):
    """The abuse ladder fed by operator dispositions, and immunity after a genuine call."""

    ladder: tuple[LadderStep, ...] = Field(default_factory=_default_ladder)
    action: RestrictAction = "challenge"
    immunity_s: PositiveSeconds = 30 * 86_400.0
    reputation_half_life_s: PositiveSeconds = Field(
        default=10 * 86_400.0,
        description=(
            "each prank or ghost verdict counts 1, halving every this long (memory over "
            "weeks, not a count per day); the sum is the number's reputation"
        ),
    )
    reputation_threshold: float = Field(
        default=3.0,
        ge=0,
        description="a reputation this high restricts the number like the ladder (0: off)",
    )

    @model_validator(mode="after")
    def _ladder_ascends(self) -> AbuseConfig:
        counts = [step.count for step in self.ladder]
        if counts != sorted(set(counts)):
            raise ValueError("ladder steps must have strictly increasing counts")
        return self


class FloodConfig(StrictModel):
    """Flood (TDoS) mode: the signals that start it, what it sheds, when it ends.

    The signals are explained in `appliance.policy.FloodMonitor`; docs/floods.md has the
    measurements behind the defaults.
    """

    enabled: bool = Field(default=True, description="detect floods at all")
    rate_window_s: PositiveSeconds = 300.0
    max_calls_in_window: int = Field(default=60, gt=0)
    saturation_s: PositiveSeconds = Field(
        default=30.0, description="window of the saturation and waiting signals"
    )
    saturation_occupancy: float = Field(
        default=0.9, gt=0, le=1, description="busy share of the lines over saturation_s"
    )
    reseize_s: PositiveSeconds = Field(
        default=1.0, description="a line seized again this soon after a release"
    )
    reseize_min: int = Field(default=2, ge=0, description="quick re-seizures within saturation_s")
    waiting_min_calls: int = Field(
        default=3, gt=0, description="callers seen waiting on busy lines within saturation_s"
    )
    new_numbers_min: int = Field(
        default=20, gt=0, description="arrivals from unknown numbers within rate_window_s"
    )
    number_min_calls: int = Field(
        default=30, gt=0, description="calls from one number within rate_window_s"
    )
    block_prefix_digits: int = Field(default=4, ge=1, le=10, description="digits of E.164 dropped")
    block_min_share: float = Field(default=0.5, gt=0, le=1)
    block_min_calls: int = Field(default=10, gt=0)
    block_min_numbers: int = Field(
        default=6, ge=2, description="numbers calling from one block that start flood mode"
    )
    withheld_min_calls: int = Field(default=10, gt=0)
    withheld_min_share: float = Field(default=0.5, gt=0, le=1)
    reserve_lines: int = Field(
        default=1,
        ge=0,
        description=(
            "in flood mode, lines kept free for callers who try again: a first attempt that "
            "would take one of them is released (and goes on the call-back list)"
        ),
    )
    short_challenge_free_lines: int = Field(
        default=1,
        ge=0,
        description=(
            "in flood mode the challenge is the short one when taking the call leaves at "
            "most this many lines free; with more free, the full challenge"
        ),
    )
    redial_window_s: PositiveSeconds = Field(
        default=900.0, description="a caller who called or waited this recently tries again"
    )
    quiet_s: PositiveSeconds = 300.0


UnverifiedHandling = Literal["listen", "operator", "release"]


class ChallengeConfig(StrictModel):
    """The challenge prompt: which key lets a caller through, and how long to wait."""

    key: str = Field(default="5", pattern=r"^[0-9*#]{1,4}$")
    attempts: int = Field(default=2, ge=1, le=5, description="prompt plays (1 + repeats)")
    wait_after_prompt_s: PositiveSeconds = 6.0
    flood_wait_s: PositiveSeconds = Field(
        default=5.0,
        description=(
            "in flood mode the challenge is one short prompt (`flood_challenge`), then this "
            "long for the key or a voice; a caller who gives neither is released"
        ),
    )
    hang_up_unverified_for: tuple[str, ...] = Field(
        default=("abuse", "blocklist", "flood"),
        description=(
            "challenge reasons after which a caller who never pressed the key is released "
            "with a goodbye message; any other unverified caller who stays on the line is "
            "passed to an operator"
        ),
    )
    warn_reported: bool = Field(
        default=True,
        description=(
            "a caller who pressed the key from a number operators reported (a prank or ghost "
            "disposition within policy.junk_evidence_s) hears the `reported` warning and "
            "waits `reported_hold_s` more before an operator is alerted"
        ),
    )
    reported_hold_s: float = Field(
        default=30.0, ge=0, le=300, description="the extra wait after the warning (0: none)"
    )
    silent_to_idle_operator: bool = Field(
        default=False,
        description=(
            "a caller 'listen' would release (no key, no voice heard, no junk evidence) is "
            "passed instead while no other call waits for an operator; off by default: "
            "docs/floods.md has the measurements (such callers go on the call-back list)"
        ),
    )
    unverified_without_evidence: UnverifiedHandling = Field(
        default="listen",
        description=(
            "a caller who never pressed the key, with no junk evidence on the number: "
            "'listen' passes them if a voice was heard during the challenge and releases "
            "them if the line listened and heard none (lines that cannot listen pass them); "
            "'operator' always passes them; 'release' always releases callers who have a "
            "number (withheld callers are passed)"
        ),
    )


WatchdogAction = Literal["alarm", "end"]


class WatchdogConfig(StrictModel):
    """How long a call may stay in one state before a line's watchdog acts (docs/faults.md).

    The line's own steps (ringing to the decision, the challenge) have their own timeouts:
    a call still there after these limits is stuck, and is ended. A call waiting for or
    talking to an operator involves people: past its limit it raises an alarm, or is ended
    where the centre chooses `end`.
    """

    ringing_s: PositiveSeconds = Field(
        default=60.0, description="ringing, screening or rejecting: the call is ended after"
    )
    challenge_s: PositiveSeconds = Field(
        default=300.0,
        description="announcing, challenging or holding (the warning's wait): ended after",
    )
    operator_ringing_s: PositiveSeconds = Field(
        default=600.0, description="a call waiting this long for an operator: `operator_ringing`"
    )
    operator_ringing: WatchdogAction = Field(
        default="alarm", description="alarm (once per call) or end the call"
    )
    connected_s: PositiveSeconds = Field(
        default=3_600.0,
        description=(
            "an operator's call this long: `connected` (on analogue-audio lines the host "
            "cannot hear whether anyone still speaks, so the limit is on time alone)"
        ),
    )
    connected: WatchdogAction = Field(
        default="alarm", description="alarm (once per call) or end the call"
    )


class PolicyConfig(StrictModel):
    """Every threshold the screening policy uses."""

    throttle: ThrottleConfig = ThrottleConfig()
    abuse: AbuseConfig = AbuseConfig()
    flood: FloodConfig = FloodConfig()
    withheld_action: NoNumberAction = "challenge"
    unavailable_action: NoNumberAction = "challenge"
    unparseable_action: NoNumberAction = "challenge"
    good_history_s: PositiveSeconds = Field(
        default=86_400.0, description="a passed challenge counts as good history this long"
    )
    challenge_unknown: bool = Field(
        default=True,
        description=(
            "challenge numbers with no good history (no genuine call in the immunity period, "
            "no challenge passed since their last prank/ghost); False passes them"
        ),
    )
    junk_evidence_s: PositiveSeconds = Field(
        default=7 * 86_400.0,
        description=(
            "a prank/ghost disposition this recent is junk evidence: a challenged caller "
            "from that number who never presses the key is released, not passed"
        ),
    )
    heard_after_unheard_s: NonNegativeSeconds = Field(
        default=6 * 3600.0,
        description=(
            "with challenge.unverified_without_evidence = 'listen': a number whose challenge "
            "heard nobody this recently is released (and listed for a call-back) when it is "
            "next heard speaking without pressing the key, the pattern of a phone in a "
            "pocket; 0 passes every caller heard speaking"
        ),
    )


class PromptText(StrictModel):
    """The words played to callers in one language.

    Modems speak `text` with their built-in TTS, whose voices are English or Chinese; for
    Bahasa Indonesia record each prompt and store it on the modem's flash, then name the
    file in `*_file` (e.g. `challenge_file = "tekan5.amr"`): a file wins over text.
    """

    challenge: str
    connecting: str
    announce: str
    silent_goodbye: str
    reported: str
    flood_challenge: str = Field(
        default="Darurat 112: tekan 5, atau bicaralah.",
        description="the short challenge of flood mode (a few seconds)",
    )
    challenge_file: str | None = None
    flood_challenge_file: str | None = None
    connecting_file: str | None = None
    announce_file: str | None = None
    goodbye_file: str | None = None
    reported_file: str | None = None
    challenge_seconds: PositiveSeconds = 12.0
    flood_challenge_seconds: PositiveSeconds = 3.0
    connecting_seconds: PositiveSeconds = 3.0
    announce_seconds: PositiveSeconds = 10.0
    goodbye_seconds: PositiveSeconds = 8.0
    reported_seconds: PositiveSeconds = 10.0

    @field_validator(
        "challenge_file",
        "flood_challenge_file",
        "connecting_file",
        "announce_file",
        "goodbye_file",
        "reported_file",
    )
    @classmethod
    def _bare_file_name(cls, value: str | None) -> str | None:
        """A file name goes into an AT command and names a file in one folder: no paths,
        quotes or spaces (letters, digits, `.`, `_`, `-`; up to 64 characters)."""
        if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", value):
            raise ValueError(f"{value!r} is not a bare file name such as 'tekan5.amr'")
        return value


def _default_prompts() -> dict[Language, PromptText]:
    return {
        "id": PromptText(
            challenge=(
                "Anda terhubung ke layanan darurat 112. Jika ini keadaan darurat, tekan 5 "
                "atau tetap di saluran dan bicaralah."
            ),
            connecting="Mohon tunggu, Anda sedang disambungkan ke petugas.",
            announce=(
                "Nomor ini sementara dibatasi karena panggilan iseng. Jika darurat, "
                "telepon kembali dan tekan 5."
            ),
            silent_goodbye=(
                "Kami tidak mendengar Anda. Jika darurat, telepon kembali 112 dan tekan 5."
            ),
            reported=(
                "Nomor Anda tercatat melakukan panggilan iseng ke 112. Jika ini keadaan "
                "darurat, tetaplah di saluran, petugas akan menjawab."
            ),
        ),
        "en": PromptText(
            challenge=(
                "You are connected to the 112 emergency service. If this is an emergency, "
                "press 5, or stay on the line and speak."
            ),
            flood_challenge="Emergency 112: press 5, or speak.",
            connecting="Please hold, you are being connected to an operator.",
            announce=(
                "This number is restricted because of prank calls. In an emergency, "
                "call again and press 5."
            ),
            silent_goodbye="We could not hear you. In an emergency, call 112 again and press 5.",
            reported=(
                "Your number has been reported for prank calls to 112. If this is an "
                "emergency, stay on the line and an operator will answer."
            ),
        ),
    }


class DatabaseConfig(StrictModel):
    """Where the call log lives, and how long its call rows are kept."""

    path: Path = Path("siaga.db")
    retention_months: int = Field(
        default=24,
        ge=0,
        description=(
            "months of call rows kept (the current one included); older months keep only "
            "their report figures. 0 keeps every row; at least 2 otherwise (the screening "
            "policy remembers 31 days)"
        ),
    )

    @field_validator("retention_months")
    @classmethod
    def _long_enough(cls, value: int) -> int:
        if value == 1:
            raise ValueError("must be 0 (keep every row) or at least 2")
        return value


class WebConfig(StrictModel):
    """The local web UI's listening address."""

    host: str = "127.0.0.1"
    port: int = Field(default=8112, gt=0, lt=65536)


NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class ClusterConfig(StrictModel):
    """Sharing with the other appliances of the site and the province over NATS JetStream.

    Without a `[cluster]` table Siaga is one box, exactly as before. With one, `siaga sync`
    (its own process and unit, so the network never touches a line) publishes this box's
    rules, verdicts, challenge outcomes and call records and applies the site's; see
    docs/cluster.md.
    """

    site: str = Field(
        pattern=NAME_PATTERN, description="the centre this box serves (shared by its boxes)"
    )
    appliance: str = Field(pattern=NAME_PATTERN, description="this box's name, unique per site")
    servers: tuple[str, ...] = Field(
        default=("nats://127.0.0.1:4222",), min_length=1, description="the site's NATS servers"
    )
    domain: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description=(
            "JetStream domain of the site's server (a leaf node of the province hub): the "
            "site's name"
        ),
    )
    province_domain: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description=(
            "JetStream domain of the province hub's server, when the site's server is its "
            "leaf node: the province's rules are mirrored from there"
        ),
    )
    credentials: Path | None = Field(
        default=None, description="NATS credentials file (.creds) of this box"
    )
    user: str | None = Field(default=None, description="NATS user, when not using credentials")
    password_file: Path | None = Field(
        default=None, description="file holding the NATS user's password"
    )
    tls_ca: Path | None = Field(default=None, description="CA certificate of the NATS servers")
    tls_cert: Path | None = Field(
        default=None,
        description=(
            "this box's own certificate, shown to servers that ask for one (verify: true);"
            " with tls_key"
        ),
    )
    tls_key: Path | None = Field(default=None, description="the private key of tls_cert")
    replicas: int = Field(
        default=1, ge=1, le=5, description="copies of each stream (3 on a three-server site)"
    )
    site_domains: tuple[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")], ...] = Field(
        default=(),
        description=(
            "the hub only: JetStream domains of the sites' servers (leaf nodes of the hub's), "
            "whose streams it gathers; empty: the sites publish on the hub's own servers"
        ),
    )
    outbox_batch: int = Field(
        default=200, gt=0, le=10_000, description="outbox rows published per round"
    )
    retry_s: PositiveSeconds = Field(
        default=2.0, description="first wait after the link or a server fails (doubles to 60 s)"
    )
    keep_sent_s: PositiveSeconds = Field(
        default=7 * 86_400.0, description="sent outbox rows are deleted after this long"
    )

    @model_validator(mode="after")
    def _domain_is_the_site(self) -> ClusterConfig:
        # The hub gathers each site from its domain and takes only that site's subjects
        # from it (`appliance.cluster.hub.gather_site_streams`): the two names are one.
        if self.domain is not None and not self.site_domains and self.domain != self.site:
            raise ValueError(
                f"domain must be the site's name ({self.site!r}, not {self.domain!r}): the"
                " province hub gathers each site's calls from the domain of that name"
            )
        return self

    @model_validator(mode="after")
    def _certificate_with_its_key(self) -> ClusterConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: the certificate and its key")
        if self.tls_cert is not None and self.tls_ca is None:
            raise ValueError(
                "tls_cert needs tls_ca: a box shows its certificate only to a server it checked"
            )
        return self


class SmsConfig(StrictModel):
    """SMS sent through the modems: warnings to restricted numbers, alarms to supervisors."""

    enabled: bool = Field(default=False, description="send SMS at all (each one costs credit)")
    line: str | None = Field(
        default=None, description="the line that sends SMS (default: any idle line)"
    )
    warn_restricted: bool = Field(
        default=True, description="warn a number when the abuse ladder restricts it"
    )
    warning_text: str = Field(
        default=(
            "Nomor Anda tercatat melakukan panggilan iseng ke 112. Panggilan iseng "
            "menghalangi orang lain yang butuh pertolongan. Jika darurat, telepon 112 dan "
            "tekan 5."
        ),
        min_length=1,
        max_length=480,
    )
    warnings_per_number_s: PositiveSeconds = Field(
        default=86_400.0, description="at most one warning per number in this long"
    )
    max_per_day: int = Field(default=50, ge=0, description="SMS of all kinds in a day, at most")
    supervisors: tuple[str, ...] = Field(
        default=(), description="numbers that receive alarms (any Indonesian form)"
    )
    alarms: tuple[str, ...] = Field(
        default=(
            "line_down",
            "line_degraded",
            "call_watchdog",
            "flood_on",
            "supervisor_flag",
            "disk_low",
            "clock_unsynced",
        ),
        description="which alarms are sent to the supervisors",
    )
    alarm_repeat_s: PositiveSeconds = Field(
        default=3_600.0, description="the same alarm is not sent again within this long"
    )


BoardBackend = Literal["auto", "gpio", "simulated"]


class BoardConfig(StrictModel):
    """Board I/O: status LEDs, desk lamps, answer buttons and modem power keys."""

    name: str = Field(
        default="default",
        description=(
            "the pin map: a file in firmware/boards/ (`default`: a Pi 4 with four lines) or "
            "a path to a .toml file; slot n serves the n-th [[lines]] entry"
        ),
    )
    backend: BoardBackend = Field(
        default="auto",
        description=(
            "`auto`: RPi.GPIO where it can be imported (a Pi), else simulated; `gpio`: the "
            "Pi's pins (an ALARM and the simulated board if they cannot be used); "
            "`simulated`: no pins at all"
        ),
    )

    @field_validator("name")
    @classmethod
    def _known_board(cls, value: str) -> str:
        from firmware.board import BoardSpecError, load_board_spec  # only to validate

        try:
            load_board_spec(value)
        except BoardSpecError as exc:
            raise ValueError(str(exc)) from None
        return value


class Config(StrictModel):
    """The whole configuration file."""

    site: SiteConfig = SiteConfig()
    database: DatabaseConfig = DatabaseConfig()
    lines: tuple[LineConfig, ...] = ()
    policy: PolicyConfig = PolicyConfig()
    challenge: ChallengeConfig = ChallengeConfig()
    watchdog: WatchdogConfig = WatchdogConfig()
    prompts: dict[Language, PromptText] = Field(default_factory=_default_prompts)
    web: WebConfig = WebConfig()
    sms: SmsConfig = SmsConfig()
    board: BoardConfig = BoardConfig()
    cluster: ClusterConfig | None = None

    @field_validator("prompts", mode="before")
    @classmethod
    def _prompts_over_defaults(cls, value: Any) -> Any:
        """Every prompt key has a default: a `[prompts.id]` table that sets only durations
        (or one file) keeps the built-in words for the rest, and a language left out keeps
        its built-in prompts."""
        if not isinstance(value, dict):
            return value
        merged: dict[Any, Any] = dict(_default_prompts())
        for language, given in value.items():
            default = merged.get(language)
            if isinstance(given, dict) and isinstance(default, PromptText):
                merged[language] = {**default.model_dump(), **given}
            else:
                merged[language] = given
        return merged

    @model_validator(mode="after")
    def _lines_unique(self) -> Config:
        names = [line.name for line in self.lines]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"line names must be unique: {', '.join(duplicates)}")
        ports = [line.port for line in self.lines]
        shared = sorted({port for port in ports if ports.count(port) > 1})
        if shared:
            raise ValueError(f"two lines use the same port: {', '.join(shared)}")
        if self.site.language not in self.prompts:
            raise ValueError(f"prompts has no text for the site language {self.site.language!r}")
        return self

    def prompt_text(self) -> PromptText:
        """The prompts in the site's language."""
        return self.prompts[self.site.language]


class ConfigError(Exception):
    """A configuration file that cannot be used; `problems` lists `key: message` lines."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _format_location(location: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(file)"


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for detail in error.errors():
        location = _format_location(tuple(detail["loc"]))
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = "unknown key (check the spelling)"
        problems.append(f"{location}: {message}")
    return problems


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    """Validate a parsed TOML document; raise ConfigError naming every bad key."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _problems(exc)) from None


def load_config(path: Path | None) -> Config:
    """Read and validate a TOML file; None gives the embedded defaults."""
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read: {exc}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    config = parse_config(data, str(path))
    logger.info("configuration loaded from %s (%d lines)", path, len(config.lines))
    return config
