"""SMS from the appliance: a warning to a number the abuse ladder restricts, alarms to the
supervisors (a line down, flood mode, a flagged number, a disk filling up, a clock that
is not synchronised).

Every SMS is queued in `sms_outbox` (through the call log's writer) before it is sent, so
a restart loses none, and the caps hold across restarts: at most one warning per number
in `sms.warnings_per_number_s`, the same alarm at most once in `sms.alarm_repeat_s`, and
`sms.max_per_day` in all, of which warnings may use only 80 % so alarms always get
through. SMS go out from an idle line only (`sms.line`, or whichever is idle): a call
that arrives meanwhile waits for the send to finish, a few seconds at most, so a centre
with a spare modem should give it the SMS.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from appliance.clock import Clock
from appliance.config import SmsConfig
from appliance.line import Line
from appliance.model import LineState
from appliance.numbers import normalise
from appliance.store import CallLog, open_readonly
from firmware.at.channel import ATError
from firmware.sms import send_sms

logger = logging.getLogger(__name__)

DAY_S = 86_400.0
WARNING_SHARE_OF_DAY = 0.8  # warnings stop here; the rest of the day's SMS is for alarms
MAX_ATTEMPTS = 3
RETRY_AFTER_S = 60.0
SEND_POLL_S = 5.0


@dataclass
class QueuedSms:
    """One SMS waiting to go out."""

    id: str
    kind: str  # "warning" | "alarm"
    topic: str  # the warned number, or the alarm's kind
    to_number: str
    text: str
    created_ts: float
    attempts: int = 0
    next_try_ts: float = 0.0


@dataclass
class _Memory:
    """What the caps need: recent SMS by time, per number and per alarm kind."""

    day: deque[tuple[float, str]] = field(default_factory=deque)  # (created_ts, kind)
    warned: dict[str, float] = field(default_factory=dict)  # number -> last warning ts
    alarmed: dict[str, float] = field(default_factory=dict)  # alarm kind -> last sent ts


class SmsDispatcher:
    """Queues SMS within the caps and sends them from idle lines."""

    def __init__(
        self,
        config: SmsConfig,
        *,
        lines: Mapping[str, Line],
        call_log: CallLog,
        clock: Clock,
        region: str = "ID",
    ) -> None:
        self.config = config
        self._lines = lines
        self._call_log = call_log
        self._clock = clock
        self._region = region
        self._queue: list[QueuedSms] = []
        self._memory = _Memory()
        self._supervisors = self._supervisor_numbers()

    def reconfigure(self, config: SmsConfig) -> None:
        """New SMS settings; the caps' memory and the queue stay."""
        self.config = config
        self._supervisors = self._supervisor_numbers()

    # ------------------------------------------------------------------ queueing

    def restriction_entered(self, number_e164: str, now_ts: float) -> bool:
        """The abuse ladder restricted `number_e164`: warn it, if the caps allow."""
        if not (self.config.enabled and self.config.warn_restricted):
            return False
        last = self._memory.warned.get(number_e164)
        if last is not None and now_ts - last < self.config.warnings_per_number_s:
            return False
        if self._sent_today(now_ts) >= WARNING_SHARE_OF_DAY * self.config.max_per_day:
            logger.warning("SMS warning to %s not sent: daily warning budget used", number_e164)
            return False
        self._memory.warned[number_e164] = now_ts
        self._enqueue("warning", number_e164, number_e164, self.config.warning_text, now_ts)
        return True

    def alarm(self, kind: str, message: str, now_ts: float, *, about: str = "") -> int:
        """An alarm of `kind` (about one line, say): queue `message` to every supervisor;
        how many were queued. The repeat limit holds per kind and `about`."""
        if not self.config.enabled or kind not in self.config.alarms or not self._supervisors:
            return 0
        topic = f"{kind}:{about}" if about else kind
        last = self._memory.alarmed.get(topic)
        if last is not None and now_ts - last < self.config.alarm_repeat_s:
            return 0
        self._memory.alarmed[topic] = now_ts
        queued = 0
        for number in self._supervisors:
            if self._sent_today(now_ts) >= self.config.max_per_day:
                logger.warning("SMS alarm %s to %s not sent: daily budget used", kind, number)
                break
            self._enqueue("alarm", topic, number, f"Siaga 112: {message}"[:480], now_ts)
            queued += 1
        return queued

    def _enqueue(self, kind: str, topic: str, number: str, text: str, now_ts: float) -> None:
        sms = QueuedSms(uuid.uuid4().hex[:16], kind, topic, number, text, now_ts)
        self._queue.append(sms)
        self._memory.day.append((now_ts, kind))
        self._call_log.sms_saved(
            sms.id,
            {
                "kind": kind,
                "topic": topic,
                "to_number": number,
                "text": text,
                "created_ts": now_ts,
                "attempts": 0,
            },
        )
        logger.info("SMS %s queued to %s (%s)", kind, number, topic)

    def _sent_today(self, now_ts: float) -> int:
        day = self._memory.day
        while day and now_ts - day[0][0] >= DAY_S:
            day.popleft()
        return len(day)

    def _supervisor_numbers(self) -> list[str]:
        numbers = []
        for raw in self.config.supervisors:
            caller = normalise(raw, self._region)
            if caller.e164 is None:
                logger.error("sms.supervisors: %r is not a phone number; ignored", raw)
                continue
            numbers.append(caller.e164)
        return numbers

    # ------------------------------------------------------------------ restart

    def restore(self, db_path: Path, now_ts: float) -> int:
        """Reload the last day's SMS from the outbox: unsent ones go back in the queue,
        and all of them count against the caps. Returns how many were requeued."""
        try:
            conn = open_readonly(db_path)
        except sqlite3.Error as exc:
            logger.warning("SMS outbox not readable: %s", exc)
            return 0
        try:
            rows = conn.execute(
                "SELECT id, kind, topic, to_number, text, created_ts, attempts, result"
                " FROM sms_outbox WHERE created_ts >= ? ORDER BY created_ts",
                (now_ts - DAY_S,),
            ).fetchall()
        finally:
            conn.close()
        for row in rows:
            self._remember(row["kind"], row["topic"], float(row["created_ts"]))
            if row["result"] is None:
                self._queue.append(
                    QueuedSms(
                        row["id"], row["kind"], row["topic"], row["to_number"], row["text"],
                        float(row["created_ts"]), int(row["attempts"]),
                    )
                )  # fmt: skip
        return sum(1 for row in rows if row["result"] is None)

    def _remember(self, kind: str, topic: str, created_ts: float) -> None:
        self._memory.day.append((created_ts, kind))
        memory = self._memory.warned if kind == "warning" else self._memory.alarmed
        memory[topic] = max(memory.get(topic, 0.0), created_ts)

    # ------------------------------------------------------------------ sending

    @property
    def pending(self) -> list[QueuedSms]:
        """SMS not sent yet, oldest first."""
        return list(self._queue)

    async def run(self, interval_s: float = SEND_POLL_S) -> None:
        """Send queued SMS until cancelled, one at a time, from idle lines."""
        while True:
            try:
                await self.send_next()
            except Exception:  # never let SMS trouble reach the lines
                logger.exception("SMS sender failed; retrying later")
            await asyncio.sleep(interval_s)

    async def send_next(self) -> bool:
        """Send the oldest SMS that is due, if a line is free; True if one was sent."""
        now_ts = self._clock.timestamp()
        due = next((sms for sms in self._queue if sms.next_try_ts <= now_ts), None)
        line = self._idle_line()
        if due is None or line is None or line.channel is None:
            return False
        due.attempts += 1
        try:
            await send_sms(line.channel, due.to_number, due.text)
        except (ATError, ValueError) as exc:
            self._failed(due, line.name, str(exc))
            return False
        self._queue.remove(due)
        self._call_log.sms_saved(
            due.id,
            {"attempts": due.attempts, "sent_ts": self._clock.timestamp(), "line": line.name,
             "result": "sent"},
        )  # fmt: skip
        return True

    def _failed(self, sms: QueuedSms, line_name: str, error: str) -> None:
        fields: dict[str, object] = {"attempts": sms.attempts, "line": line_name, "error": error}
        if sms.attempts >= MAX_ATTEMPTS:
            self._queue.remove(sms)
            fields["result"] = "failed"
            logger.error(
                "SMS to %s failed %d times, given up: %s", sms.to_number, sms.attempts, error
            )
        else:
            sms.next_try_ts = self._clock.timestamp() + RETRY_AFTER_S
            logger.warning("SMS to %s failed (%s); retrying later", sms.to_number, error)
        self._call_log.sms_saved(sms.id, fields)

    def _idle_line(self) -> Line | None:
        if self.config.line is not None:
            line = self._lines.get(self.config.line)
            return line if line is not None and line.state is LineState.IDLE else None
        return next((line for line in self._lines.values() if line.state is LineState.IDLE), None)
