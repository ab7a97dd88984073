"""How many live event streams each session holds, so one session cannot open hundreds.

`StreamRegistry.open` gives a stream a slot of its session, or None when the session
already holds `per_session` live ones; the stream `touch`es its slot on every poll and
`close`s it when it ends. A slot not touched for `stale_s` counts as gone: a stream whose
end was never seen (its task cancelled before it began) frees its slot by itself.
"""

from __future__ import annotations

import itertools
import threading
import time

STREAMS_PER_SESSION = 4  # a console in a few tabs
STALE_S = 5.0


class StreamRegistry:
    """Live streams per session id (see the module docstring); shared by threads."""

    def __init__(self, per_session: int = STREAMS_PER_SESSION, stale_s: float = STALE_S) -> None:
        self._per_session = per_session
        self._stale_s = stale_s
        self._streams: dict[str, dict[int, float]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def open(self, session_id: str) -> int | None:
        """A slot for a new stream of `session_id`, or None when it holds enough."""
        now = time.monotonic()
        with self._lock:
            live = {
                stream: seen
                for stream, seen in self._streams.get(session_id, {}).items()
                if now - seen < self._stale_s
            }
            if len(live) >= self._per_session:
                self._streams[session_id] = live
                return None
            stream_id = next(self._ids)
            live[stream_id] = now
            self._streams[session_id] = live
            return stream_id

    def touch(self, session_id: str, stream_id: int) -> None:
        """The stream is still running."""
        with self._lock:
            streams = self._streams.get(session_id)
            if streams is not None and stream_id in streams:
                streams[stream_id] = time.monotonic()

    def close(self, session_id: str, stream_id: int) -> None:
        """The stream has ended."""
        with self._lock:
            streams = self._streams.get(session_id, {})
            streams.pop(stream_id, None)
            if not streams:
                self._streams.pop(session_id, None)

    def count(self, session_id: str) -> int:
        """How many streams `session_id` holds (stale ones included until the next open)."""
        with self._lock:
            return len(self._streams.get(session_id, {}))
