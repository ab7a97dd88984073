"""Benchmark: the voice detector on audio other tools made, as a confusion table, and its cost.

Usage:
    .venv/bin/python bench/bench_voice.py [--quick] [--noise-s 36] [--json-only]
    .venv/bin/python bench/bench_voice.py --muffled [--quick]    # the muffled world instead
    .venv/bin/python bench/bench_voice.py --reverberant [--quick]         # echoing rooms
    .venv/bin/python bench/bench_voice.py --phone-processing [--quick]    # network, handset
    .venv/bin/python bench/bench_voice.py --rubbing [--quick]             # over cloth rubbing
    .venv/bin/python bench/bench_voice.py --codecs [--quick]              # network codecs
    ... [--level-dbfs -48] [--level-hold-dbfs -54]               # another gate, to compare

Needs Debian's `espeak-ng` and `sox` (and `alsa-utils` for the recorded words); `./dev
test` installs them. The audio is made in memory by `tests/firmware/external_audio.py`,
the same helper the tests use: Indonesian sentences spoken by espeak-ng in 7 voices, the
words a real person recorded for alsa-utils, sox's noises and tones, street noise. Each
clip goes through a fresh `VoiceDetector` fed 100 ms at a time (the resolution of the
"heard after" figures; what the detector counts does not depend on the size of the pieces,
only its cost does). Levels are active levels (ITU-T P.56 method B), in dBFS.

Prints Markdown tables:

- speech by level: how many clips were heard, the seconds of voice counted (least and
  median), and the listening time from the start of the sentence until `heard` (median
  and most), with the worst clip;
- recorded words by level, whispered speech, speech over street noise by SNR;
- every noise class, as made and through the telephone band, by level: the seconds of
  "voice" counted in `--noise-s` of it (36 s by default: as long as the default challenge
  listens, two 12 s prompts each followed by 6 s of waiting); a class is *heard* when
  that reaches `min_voice_s`;
- the CPU time (process time, one core) the detector takes per second of audio, fed in
  20 ms chunks (a frame per call), 100 ms, 1 s (what `VoiceListener` does) and whole.

`--muffled` sweeps the muffled world instead: a caller heard through cloth (sox `lowpass`
at 300, 500, 800 Hz, or the telephone band alone at 3400 Hz) at active levels from -40 to
-58 dBFS in 2 dB steps, alone and over the room's noise (muffled alike, -60 dBFS RMS);
per cell the share of clips heard and the time from the first word to `heard`, median and
most (the worst case beside the typical). Then its mirror, a pocket dial whose owner talks
to someone else for the whole 36 s challenge (two talkers taking turns, muffled), the
same way; every noise class again at the quiet levels where a muffled caller is, -58 to
-44 dBFS, `--noise-s` of each; and the project's own pocket sound (the simulator's
`CallerSound("noise")`: rustle and room voices muffled by cloth at about -50 dBFS).

`--reverberant` sweeps a caller in an echoing room instead: every sentence dry and through
sox `reverb` (reverberance 0, 50 and 100 %, room scale 100 %; at 50 and 100 % also the
echo alone, `-w`, a talker far from the phone) before the telephone band, at active levels
from -20 to -58 dBFS (`audio.WORLD_LEVELS_DBFS`), the share heard and the time to the
first hearing per cell (median and most), then the voice counted at -40 dBFS per room
(least and median: the margin), every noise class through each room (the most seconds
counted at any level, -60 to -15 dBFS and the quiet levels), and the simulator's pocket
dial through each room at its own RMS level.

`--phone-processing` sweeps what the network and the handset do to a call: the network's
comfort noise alone (GSM/AMR discontinuous transmission: pink or brown noise whose level
steps every 160 ms, -70 to -30 dBFS, `--noise-s` of it); a caller over the room's noise
through a handset's noise suppression (a gate on 10 ms frames that cuts what is under its
threshold and clips each onset by 20 or 50 ms; one fills its gaps with comfort noise)
beside the same clips without it, at the same levels as `--reverberant`; and every noise
class through each gate.

`--rubbing` sweeps a caller speaking while the phone rubs against cloth: every sentence
alone at -26 and -40 dBFS active level with each tremolo noise (brown, pink, white; as
made and through the telephone band: the noise classes' cloth rubbing) under it for the
whole clip, the speech's active level over its RMS +10, +5, 0 and -5 dB; per cell the
share heard and the time to the first hearing (median and most), the talker with the
fewest heard per row, the least voice counted per cell; the same for a caller who says
the first two sentences in a row. Then the same mixes with no voice: the rubbing alone at
every level the mixes put it at (`--noise-s` of it), espeak-ng's whisper over it, and
every noise class with it under (the most seconds any level and ratio counted).

`--codecs` sweeps the network's speech codecs: every sentence, at the level the caller's
phone sends, coded and decoded by sox (AMR-NB 12.2 and 4.75 kbit/s, GSM full rate)
beside the same without a codec, at the same levels as `--reverberant`; the margins at
-40 dBFS; and every noise class through each codec (`--noise-s` of it, the most seconds
counted at any level).

`--level-dbfs` and `--level-hold-dbfs` run everything with another level gate (the
detector's `VoiceSettings`), to see what moving it would gain and cost; with the hold
equal to the gate the detector is the one before the hold was added.

The last line is one JSON object with the summary figures. `--quick`: 3 voices x 2
sentences, 10 s of each noise. The exit status is 1 when a target is missed: speech at
-40 dBFS or louder not heard, or any noise class heard (with `--muffled`: any noise class
heard at the quiet levels; with `--reverberant`, `--phone-processing` or `--codecs`:
speech at -40 dBFS or louder missed in any column, any noise class heard under any
condition, or comfort noise heard; `--quick` there: the noises at -60 to -15 dBFS only;
with `--rubbing`: a sentence missed with the rubbing 10 dB or more under it, or the
rubbing alone, a whisper over it or a noise class with it under heard).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware.audio import VoiceDetector, VoiceSettings
from firmware.virtual_modem import CallerSound
from tests.firmware import external_audio as audio

logger = logging.getLogger("bench_voice")

TARGET_SPEECH_DBFS = -40.0
LINES = 8
QUIET_NOISE_LEVELS_DBFS = (-58.0, -56.0, -54.0, -52.0, -50.0, -48.0, -46.0, -44.0)
# The pocket dial's owner and the person they talk to: a man and a woman, then the other
# way round, then the klatt voice with a deep man.
POCKET_PAIRS = (
    (audio.TALKERS[0], audio.TALKERS[1]),
    (audio.TALKERS[2], audio.TALKERS[4]),
    (audio.TALKERS[6], audio.TALKERS[3]),
)
SIMULATOR_POCKET_S = 60.0


@dataclass(frozen=True)
class Outcome:
    """One clip through the detector."""

    clip: audio.Clip
    heard: audio.Heard

    @property
    def found_after_s(self) -> float | None:
        """Listening time from the start of the utterance until `heard`."""
        after = self.heard.heard_after_s
        return None if after is None else max(0.0, after - audio.LEAD_S)


SETTINGS = VoiceSettings()  # what every clip is heard with; `main` may replace it


def listen(pcm: bytes) -> audio.Heard:
    """`pcm` through a fresh detector with SETTINGS, fed 100 ms at a time."""
    return audio.listen(pcm, SETTINGS)


def run(clips: Sequence[audio.Clip]) -> list[Outcome]:
    """Each clip through a fresh detector."""
    return [Outcome(clip, listen(clip.pcm)) for clip in clips]


def speech_row(label: str, outcomes: list[Outcome]) -> str:
    """One Markdown row summarising a group of voice clips."""
    heard = [o for o in outcomes if o.heard.heard]
    seconds = [o.heard.heard_s for o in outcomes]
    found = [o.found_after_s for o in heard if o.found_after_s is not None]
    worst = min(outcomes, key=lambda o: o.heard.heard_s)
    found_cells = f"{statistics.median(found):.1f} | {max(found):.1f}" if found else "- | -"
    return (
        f"| {label} | {len(heard)}/{len(outcomes)} | {min(seconds):.2f} | "
        f"{statistics.median(seconds):.2f} | {found_cells} | {worst.clip.detail} |"
    )


SPEECH_HEADER = (
    "| {what} | heard | voice s (least) | voice s (median) | heard after s (median) "
    "| heard after s (most) | fewest seconds heard |\n| --- | --- | --- | --- | --- | --- | --- |"
)


Table = tuple[list[str], dict[str, object]]  # Markdown lines, summary figures


def heard_count(outcomes: list[Outcome]) -> str:
    """'heard/total'."""
    return f"{sum(o.heard.heard for o in outcomes)}/{len(outcomes)}"


def speech_by_level(
    library: audio.Library, talkers: Sequence[audio.Talker], sentences: Sequence[str]
) -> Table:
    """Every voice and sentence at every speech level."""
    lines = ["### Speech (espeak-ng, Indonesian, telephone band)", ""]
    lines.append(SPEECH_HEADER.format(what="active level dBFS"))
    figures: dict[str, object] = {}
    missed = 0
    for level in audio.SPEECH_LEVELS_DBFS:
        outcomes = run([library.speech_clip(s, t, level) for t in talkers for s in sentences])
        lines.append(speech_row(f"{level:g}", outcomes))
        figures[f"speech_heard_{level:g}dBFS"] = heard_count(outcomes)
        if level >= TARGET_SPEECH_DBFS:
            missed += sum(not o.heard.heard for o in outcomes)
        if level == TARGET_SPEECH_DBFS:
            least = min(o.heard.heard_s for o in outcomes)
            found = [o.found_after_s for o in outcomes if o.found_after_s is not None]
            figures["speech_-40dBFS_least_voice_s"] = round(least, 2)
            figures["speech_-40dBFS_heard_after_s_max"] = round(max(found), 2) if found else None
    figures["speech_target_missed"] = missed
    return lines, figures


def recorded_and_whispered(library: audio.Library, sentences: Sequence[str]) -> Table:
    """alsa-utils' recorded words by level, then espeak-ng's whisper."""
    lines = ["### Recorded words (alsa-utils, one speaker), each word alone", ""]
    lines.append(SPEECH_HEADER.format(what="active level dBFS"))
    figures: dict[str, object] = {}
    for level in (-45.0, -40.0, -30.0, -20.0):
        outcomes = run(list(library.recorded_words(level)))
        if outcomes:
            lines.append(speech_row(f"{level:g}", outcomes))
            figures[f"recorded_heard_{level:g}dBFS"] = heard_count(outcomes)
    lines += ["", "### Whispered speech (espeak-ng `id+whisper`): unvoiced, not heard by design"]
    lines += ["", SPEECH_HEADER.format(what="active level dBFS")]
    for level in (-30.0, -20.0):
        outcomes = run([library.speech_clip(s, audio.WHISPER, level) for s in sentences])
        lines.append(speech_row(f"{level:g}", outcomes))
        figures[f"whisper_heard_{level:g}dBFS"] = heard_count(outcomes)
    return lines, figures


def street(
    library: audio.Library, talkers: Sequence[audio.Talker], sentences: Sequence[str]
) -> Table:
    """Every voice and sentence over street noise at every SNR."""
    lines = [f"### Speech at {audio.STREET_SPEECH_LEVEL_DBFS:g} dBFS over street noise", ""]
    lines.append(SPEECH_HEADER.format(what="SNR dB"))
    figures: dict[str, object] = {}
    for snr in audio.SNRS_DB:
        outcomes = run([library.street_clip(s, t, snr) for t in talkers for s in sentences])
        lines.append(speech_row(f"{snr:+g}", outcomes))
        figures[f"street_heard_{snr:+g}dB"] = heard_count(outcomes)
    return lines, figures


def seconds_cell(heard: audio.Heard) -> str:
    """The seconds counted as voice, in bold with 'heard' when they reach `min_voice_s`."""
    return f"**heard {heard.heard_s:.2f}**" if heard.heard else f"{heard.heard_s:.2f}"


def heard_figures(
    prefix: str, heard_where: list[str], most: tuple[float, str]
) -> dict[str, object]:
    """A table's summary under `prefix`: where a voice was heard, and the most seconds any
    cell counted and where (empty when none counted any)."""
    return {
        f"{prefix}_heard": heard_where,
        f"{prefix}_most_voice_s": round(most[0], 2),
        f"{prefix}_most_voice_where": most[1] if most[0] > 0 else "",
    }


def level_header(title: str, levels: Sequence[float] = audio.NOISE_LEVELS_DBFS) -> list[str]:
    """A table heading and the header rows of a class x level table."""
    return [
        title,
        "",
        "| class | " + " | ".join(f"{level:g} dBFS" for level in levels) + " |",
        "| --- | " + " | ".join("---" for _ in levels) + " |",
    ]


def noise_row(
    library: audio.Library,
    kind: str,
    noise_s: float,
    phone_band: bool,
    all_levels: Sequence[float] = audio.NOISE_LEVELS_DBFS,
) -> tuple[str, list[tuple[float, str, bool]]]:
    """One class through the detector at every level: its row and (seconds, where,
    heard) per cell. Silence has no level to set: one cell, with its level as made."""
    levels = all_levels if kind != audio.SILENCE else all_levels[:1]
    label = f"{kind} (phone band)" if phone_band else kind
    results = []
    cells = []
    for level in levels:
        heard = listen(library.noise_clip(kind, level, noise_s, phone_band).pcm)
        results.append((heard.heard_s, f"{label} at {level:g} dBFS", heard.heard))
        cells.append(seconds_cell(heard))
    if kind == audio.SILENCE:
        made_dbfs = audio.rms_dbfs(library.noise(kind, noise_s))
        cells = [f"{cells[0]} (as made: {made_dbfs:.0f} dBFS)"]
        cells += [""] * (len(all_levels) - 1)
    return f"| {label} | " + " | ".join(cells) + " |", results


def noise_table(
    library: audio.Library,
    noise_s: float,
    levels: Sequence[float] = audio.NOISE_LEVELS_DBFS,
    beyond: bool = True,
) -> Table:
    """The confusion table of the noise classes: seconds of 'voice' counted per level."""
    min_voice_s = SETTINGS.min_voice_s
    title = (
        f"### Noise ({noise_s:g} s each): seconds counted as voice; **heard** at {min_voice_s:g} s"
    )
    lines = level_header(title, levels)
    results: list[tuple[float, str, bool]] = []
    for phone_band in (False, True):
        for kind in audio.NOISES:
            if not (phone_band and kind == audio.SILENCE):
                row, cells = noise_row(library, kind, noise_s, phone_band, levels)
                lines.append(row)
                results += cells
    if not beyond:
        return lines, _noise_figures(results, noise_s)
    lines += ["", *level_header("Beyond the targets (not a class the detector is held to):")]
    for kind in audio.BEYOND_TARGETS:
        lines.append(noise_row(library, kind, noise_s, False)[0].replace("**", ""))
    return lines, _noise_figures(results, noise_s)


def _noise_figures(results: list[tuple[float, str, bool]], noise_s: float) -> dict[str, object]:
    """The summary of a noise table: what was heard, and the most any cell counted."""
    heard_where = [where for _, where, heard in results if heard]
    seconds, where, _ = max(results)
    return {"noise_s": noise_s, **heard_figures("noise", heard_where, (seconds, where))}


# ---------------------------------------------------------------------------------------
# The muffled world: a caller through cloth or far from the phone, and its mirror.


def sweep_cell(outcomes: list[Outcome]) -> str:
    """'heard/total median/most' (seconds from the first word to `heard`)."""
    found = [o.found_after_s for o in outcomes if o.found_after_s is not None]
    timing = f" {statistics.median(found):.1f}/{max(found):.1f}" if found else ""
    return f"{heard_count(outcomes)}{timing}"


def cutoff_label(cutoff_hz: float) -> str:
    """A column heading for a cloth cutoff."""
    if cutoff_hz >= audio.NO_CLOTH_HZ:
        return f"{cutoff_hz:g} Hz (no cloth)"
    return f"{cutoff_hz:g} Hz"


def sweep_table(
    title: str, make: Callable[[float, float], list[audio.Clip]]
) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Level x cutoff: per cell the clips `make(level, cutoff)` gives, heard and when."""
    cutoffs = audio.CLOTH_CUTOFFS_HZ
    lines = [
        title,
        "",
        "| active level dBFS | " + " | ".join(cutoff_label(c) for c in cutoffs) + " |",
        "| --- | " + " | ".join("---" for _ in cutoffs) + " |",
    ]
    grid: dict[str, dict[str, str]] = {f"{c:g}": {} for c in cutoffs}
    for level in audio.MUFFLED_LEVELS_DBFS:
        cells = []
        for cutoff in cutoffs:
            outcomes = run(make(level, cutoff))
            grid[f"{cutoff:g}"][f"{level:g}"] = heard_count(outcomes)
            cells.append(sweep_cell(outcomes))
        lines.append(f"| {level:g} | " + " | ".join(cells) + " |")
        logger.info("%s: %g dBFS done", title.lstrip("# "), level)
    return lines, grid


def all_heard_down_to(column: dict[str, str]) -> float | None:
    """The lowest level from which up every clip of a column was heard (None: not even
    at the top level). The column's cells run loudest first, as the sweeps fill them."""
    lowest = None
    for level, cell in column.items():
        heard, total = cell.split("/")
        if heard != total:
            break
        lowest = float(level)
    return lowest


def muffled_world(
    library: audio.Library,
    talkers: Sequence[audio.Talker],
    sentences: Sequence[str],
    pairs: Sequence[tuple[audio.Talker, audio.Talker]],
) -> Table:
    """The muffled caller, alone and over room noise, and the pocket owner talking."""
    lines: list[str] = []
    figures: dict[str, object] = {}
    for noise_dbfs, key, what in (
        (None, "quiet", "alone (silence between the words)"),
        (audio.ROOM_NOISE_DBFS, "room", f"over room noise at {audio.ROOM_NOISE_DBFS:g} dBFS"),
    ):

        def caller(
            level: float, cutoff: float, noise: float | None = noise_dbfs
        ) -> list[audio.Clip]:
            return [
                library.muffled_clip(s, t, level, cutoff, noise) for t in talkers for s in sentences
            ]

        title = f"### A caller through cloth, one sentence, {what}"
        table, grid = sweep_table(title, caller)
        lines += [*table, ""]
        figures[f"muffled_{key}"] = grid
        figures[f"muffled_{key}_all_heard_down_to_dBFS"] = {
            cutoff: all_heard_down_to(column) for cutoff, column in grid.items()
        }

    def pocket(level: float, cutoff: float) -> list[audio.Clip]:
        return [
            library.pocket_talk_clip(owner, other, level, cutoff, audio.ROOM_NOISE_DBFS)
            for owner, other in pairs
        ]

    title = (
        f"### Its mirror: a pocket dial, the owner talking to someone else for "
        f"{audio.POCKET_TALK_S:g} s, over room noise at {audio.ROOM_NOISE_DBFS:g} dBFS"
    )
    table, grid = sweep_table(title, pocket)
    lines += [*table, ""]
    figures["pocket_talk"] = grid
    figures["pocket_talk_all_heard_down_to_dBFS"] = {
        cutoff: all_heard_down_to(column) for cutoff, column in grid.items()
    }
    return lines, figures


def simulator_pocket() -> Table:
    """The simulator's pocket dial (`CallerSound("noise")`), which the detector must not
    hear: its muffled room voices sit where the muffled caller does."""
    heard = listen(CallerSound("noise").next_chunk(SIMULATOR_POCKET_S))
    line = (
        f'The simulator\'s pocket dial (`CallerSound("noise")`, {SIMULATOR_POCKET_S:g} s: '
        f"rustle, and room voices through cloth at about -50 dBFS): {heard.heard_s:.2f} s "
        f"counted as voice, {'**heard**' if heard.heard else 'not heard'}."
    )
    figures: dict[str, object] = {
        "simulator_pocket_voice_s": round(heard.heard_s, 2),
        "simulator_pocket_heard": heard.heard,
    }
    return [line], figures


# ---------------------------------------------------------------------------------------
# Columns of conditions: the reverberant world, and the handset's and network's processing.

Column = tuple[str, Callable[[float], list[audio.Clip]]]  # heading, clips at a level


def column_sweep(
    title: str, columns: Sequence[Column]
) -> tuple[list[str], dict[str, dict[str, str]], dict[str, list[Outcome]], int]:
    """Level x condition, at a caller's everyday levels and the muffled sweep's quiet
    ones (`audio.WORLD_LEVELS_DBFS`): per cell the clips heard and the time from the
    first word to `heard`, median and most. Also each column's outcomes at
    TARGET_SPEECH_DBFS (for the margins), and how many clips at that level or louder
    were not heard (the target missed)."""
    lines = [
        title,
        "",
        "| active level dBFS | " + " | ".join(heading for heading, _ in columns) + " |",
        "| --- | " + " | ".join("---" for _ in columns) + " |",
    ]
    grid: dict[str, dict[str, str]] = {heading: {} for heading, _ in columns}
    at_target: dict[str, list[Outcome]] = {}
    missed = 0
    for level in audio.WORLD_LEVELS_DBFS:
        cells = []
        for heading, make in columns:
            outcomes = run(make(level))
            grid[heading][f"{level:g}"] = heard_count(outcomes)
            cells.append(sweep_cell(outcomes))
            if level == TARGET_SPEECH_DBFS:
                at_target[heading] = outcomes
            if level >= TARGET_SPEECH_DBFS:
                missed += sum(not o.heard.heard for o in outcomes)
        lines.append(f"| {level:g} | " + " | ".join(cells) + " |")
        logger.info("%s: %g dBFS done", title.lstrip("# "), level)
    return lines, grid, at_target, missed


def margin_table(title: str, at_target: dict[str, list[Outcome]]) -> Table:
    """Per column at TARGET_SPEECH_DBFS: the seconds of voice counted (least, median),
    the longest wait for `heard`, and the clip with the fewest seconds."""
    lines = [title, "", SPEECH_HEADER.format(what="condition")]
    figures: dict[str, object] = {}
    for heading, outcomes in at_target.items():
        lines.append(speech_row(heading, outcomes))
        figures[heading] = round(min(o.heard.heard_s for o in outcomes), 2)
    return lines, {"least_voice_s_at_target": figures}


def sweep_figures(key: str, grid: dict[str, dict[str, str]]) -> dict[str, object]:
    """A sweep's summary: every cell, and per column the lowest level from which up
    every clip was heard."""
    return {
        key: grid,
        f"{key}_all_heard_down_to_dBFS": {
            heading: all_heard_down_to(column) for heading, column in grid.items()
        },
    }


def most_cell(results: list[tuple[float, float, bool]]) -> str:
    """The most seconds any level counted, and at which level ('heard' in bold)."""
    seconds, level, heard = max(results)
    if seconds == 0:
        return "0.00"
    cell = f"{seconds:.2f} ({level:g})"
    return f"**heard {cell}**" if heard else cell


def noise_by_condition(
    title: str,
    headings: Sequence[str],
    levels: Sequence[float],
    clips: Callable[[str, float, bool], list[audio.Clip]],
) -> Table:
    """Rows: every noise class as made and through the telephone band, then those beyond
    the targets; columns: the conditions, each cell the most seconds of voice counted at
    any of `levels` (the clips `clips(kind, level, phone_band)` gives, one a column)."""
    lines = [
        title,
        "",
        "| class | " + " | ".join(headings) + " |",
        "| --- | " + " | ".join("---" for _ in headings) + " |",
    ]
    heard_where: list[str] = []
    most: tuple[float, str] = (0.0, "")
    for phone_band in (False, True):
        for kind in (*audio.NOISES, *audio.BEYOND_TARGETS):
            if kind == audio.SILENCE and phone_band:
                continue
            per_column: list[list[tuple[float, float, bool]]] = [[] for _ in headings]
            for level in levels if kind != audio.SILENCE else levels[:1]:
                for index, clip in enumerate(clips(kind, level, phone_band)):
                    heard = listen(clip.pcm)
                    per_column[index].append((heard.heard_s, level, heard.heard))
            label = f"{kind} (phone band)" if phone_band else kind
            if kind in audio.BEYOND_TARGETS:
                label = f"{label}, beyond the targets"
            else:
                for heading, results in zip(headings, per_column, strict=True):
                    top = max(results)
                    most = max(most, (top[0], f"{label} at {top[1]:g} dBFS, {heading}"))
                    heard_where += [
                        f"{label} at {lv:g} dBFS, {heading}" for _, lv, h in results if h
                    ]
            cells = [most_cell(results) for results in per_column]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        logger.info("%s: %s done", title.lstrip("# "), "phone band" if phone_band else "as made")
    return lines, heard_figures("noise", heard_where, most)


def noise_levels(quick: bool) -> tuple[float, ...]:
    """The levels every noise class is tried at under a condition: the targets' levels
    and, unless quick, the quiet ones where these callers are."""
    if quick:
        return audio.NOISE_LEVELS_DBFS
    return tuple(sorted({*audio.NOISE_LEVELS_DBFS, *QUIET_NOISE_LEVELS_DBFS}, reverse=True))


def reverberant_world(
    library: audio.Library,
    talkers: Sequence[audio.Talker],
    sentences: Sequence[str],
    noise_s: float,
    quick: bool,
) -> Table:
    """A caller in an echoing room or far from the phone: every sentence dry and through
    each room, the margins at -40 dBFS, every noise class through each room, and the
    simulator's pocket dial through each room."""
    rooms: list[audio.Room | None] = [None, *audio.ROOMS]
    columns: list[Column] = []
    for room in rooms:

        def clips(level: float, room: audio.Room | None = room) -> list[audio.Clip]:
            return [library.reverberant_clip(s, t, level, room) for t in talkers for s in sentences]

        columns.append(("dry" if room is None else room.name, clips))
    title = "### A caller in a room, one sentence and its echo, alone"
    lines, grid, at_target, missed = column_sweep(title, columns)
    figures = sweep_figures("reverberant", grid)
    margin_lines, margins = margin_table(
        f"### Voice counted at {TARGET_SPEECH_DBFS:g} dBFS, per room", at_target
    )
    figures |= margins
    figures["speech_target_missed"] = missed
    levels = noise_levels(quick)
    noise_lines, noise_figures = noise_by_condition(
        f"### Noise through each room ({noise_s:g} s each): the most seconds counted as voice "
        f"at any level from {min(levels):g} to {max(levels):g} dBFS (at which)",
        [room.name for room in audio.ROOMS],
        levels,
        lambda kind, level, band: [
            library.noise_clip(kind, level, noise_s, band, room) for room in audio.ROOMS
        ],
    )
    figures |= noise_figures
    pocket_lines, pocket_figures = simulator_pocket_in_rooms()
    lines += ["", *margin_lines, "", *noise_lines, "", *pocket_lines]
    return lines, figures | pocket_figures


def simulator_pocket_in_rooms() -> Table:
    """The simulator's pocket dial (rustle and muffled room voices) through each room, at
    the same RMS level as it is made."""
    pcm = CallerSound("noise").next_chunk(SIMULATOR_POCKET_S)
    made = audio.from_pcm(pcm)
    lines = [
        f'### The simulator\'s pocket dial (`CallerSound("noise")`, {SIMULATOR_POCKET_S:g} s) '
        "through each room, at its own RMS level",
        "",
        "| room | seconds counted as voice |",
        "| --- | --- |",
    ]
    figures: dict[str, float] = {}
    for room in (None, *audio.ROOMS):
        name = "dry" if room is None else room.name
        samples = made if room is None else audio.through_room(pcm, room)
        samples = samples * 10 ** ((audio.rms_dbfs(made) - audio.rms_dbfs(samples)) / 20)
        heard = listen(audio.to_pcm(samples))
        figures[name] = round(heard.heard_s, 2)
        cell = seconds_cell(heard)
        lines.append(f"| {name} | {cell} |")
    return lines, {"simulator_pocket_voice_s": figures}


def comfort_noise_table(library: audio.Library, noise_s: float) -> Table:
    """The network's comfort noise alone, each kind at every level: seconds counted."""
    levels = audio.COMFORT_LEVELS_DBFS
    title = (
        f"### A network's comfort noise ({noise_s:g} s each, level stepping every "
        f"{audio.COMFORT_FRAME_S * 1000:g} ms): seconds counted as voice"
    )
    lines = level_header(title, levels)
    heard_where: list[str] = []
    most: tuple[float, str] = (0.0, "")
    for comfort in audio.COMFORT_NOISES:
        cells = []
        for level in levels:
            heard = listen(library.comfort_clip(comfort, level, noise_s).pcm)
            where = f"comfort noise {comfort.name} at {level:g} dBFS"
            most = max(most, (heard.heard_s, where))
            if heard.heard:
                heard_where.append(where)
            cells.append(seconds_cell(heard))
        lines.append(f"| {comfort.name} | " + " | ".join(cells) + " |")
    return lines, heard_figures("comfort_noise", heard_where, most)


NoiseThrough = tuple[Sequence[str], Callable[[str, float, bool], list[audio.Clip]]]


def condition_world(
    key: str,
    sweep_title: str,
    columns: Sequence[Column],
    condition: str,
    noise: NoiseThrough,
    noise_s: float,
    quick: bool,
) -> Table:
    """A caller under each condition of `columns` (`column_sweep`, figures under `key`),
    the margins at TARGET_SPEECH_DBFS per `condition`, and every noise class through each
    condition (`noise`: the headings and the clips, as `noise_by_condition` takes them)."""
    sweep_lines, grid, at_target, missed = column_sweep(sweep_title, columns)
    figures = sweep_figures(key, grid)
    margin_lines, margins = margin_table(
        f"### Voice counted at {TARGET_SPEECH_DBFS:g} dBFS, per {condition}", at_target
    )
    figures |= margins
    figures["speech_target_missed"] = missed
    levels = noise_levels(quick)
    headings, clips = noise
    noise_lines, noise_figures = noise_by_condition(
        f"### Noise through each {condition} ({noise_s:g} s each): the most seconds counted "
        f"as voice at any level from {min(levels):g} to {max(levels):g} dBFS (at which)",
        headings,
        levels,
        clips,
    )
    figures |= noise_figures
    return [*sweep_lines, "", *margin_lines, "", *noise_lines], figures


def phone_processing_world(
    library: audio.Library,
    talkers: Sequence[audio.Talker],
    sentences: Sequence[str],
    noise_s: float,
    quick: bool,
) -> Table:
    """The network's comfort noise alone; a caller over room noise through a handset's
    noise suppression (each gate) beside the same without it, the margins at -40 dBFS;
    every noise class through each gate."""
    lines, figures = comfort_noise_table(library, noise_s)
    gates: list[audio.NoiseGate | None] = [None, *audio.NOISE_GATES]
    columns: list[Column] = []
    for gate in gates:

        def clips(level: float, gate: audio.NoiseGate | None = gate) -> list[audio.Clip]:
            return [library.suppressed_clip(s, t, level, gate) for t in talkers for s in sentences]

        columns.append(("without" if gate is None else gate.name, clips))
    title = (
        f"### A caller over room noise at {audio.ROOM_NOISE_DBFS:g} dBFS through a handset's "
        "noise suppression, one sentence"
    )

    def gated_noise(kind: str, level: float, band: bool) -> list[audio.Clip]:
        clip = library.noise_clip(kind, level, noise_s, band)
        return [library.gate_clip(clip, gate) for gate in audio.NOISE_GATES]

    noise = ([gate.name for gate in audio.NOISE_GATES], gated_noise)
    world_lines, world_figures = condition_world(
        "suppressed", title, columns, "gate", noise, noise_s, quick
    )
    return [*lines, "", *world_lines], figures | world_figures


# ---------------------------------------------------------------------------------------
# The network's speech codec between the caller and the modem.


def codec_world(
    library: audio.Library,
    talkers: Sequence[audio.Talker],
    sentences: Sequence[str],
    noise_s: float,
    quick: bool,
) -> Table:
    """A caller through each network codec beside the same without one, the margins at
    -40 dBFS; every noise class through each codec."""
    codecs: list[audio.Codec | None] = [None, *audio.CODECS]
    columns: list[Column] = []
    for codec in codecs:

        def clips(level: float, codec: audio.Codec | None = codec) -> list[audio.Clip]:
            made = [library.speech_clip(s, t, level) for t in talkers for s in sentences]
            return made if codec is None else [library.codec_clip(c, codec) for c in made]

        columns.append(("without" if codec is None else codec.name, clips))
    title = "### A caller through the network's codec, one sentence (level before the codec)"

    def coded_noise(kind: str, level: float, band: bool) -> list[audio.Clip]:
        clip = library.noise_clip(kind, level, noise_s, band)
        return [library.codec_clip(clip, codec) for codec in audio.CODECS]

    noise = ([codec.name for codec in audio.CODECS], coded_noise)
    return condition_world("codec", title, columns, "codec", noise, noise_s, quick)


# ---------------------------------------------------------------------------------------
# A caller speaking while the phone rubs against cloth, and the same mixes with no voice.

RubbingRow = tuple[float, audio.Rubbing]  # the speech's active level, the rubbing
# Every sentence alone is to be heard over every kind of rubbing this far under it, or
# less (the bench's target; docs/voice-detector.md gives the promise per kind).
RUBBING_TARGET_RATIO_DB = 10.0


def rubbing_rows() -> list[RubbingRow]:
    """Each speech level with each kind of rubbing, in table order."""
    return [
        (level, rubbing) for level in audio.RUBBING_SPEECH_LEVELS_DBFS for rubbing in audio.RUBBINGS
    ]


def ratio_header(title: str, last: str | None = None) -> list[str]:
    """A table heading and the header rows of a (speech level, rubbing) x ratio table."""
    ratios = [f"{ratio:+g} dB" for ratio in audio.RUBBING_RATIOS_DB]
    extra = [] if last is None else [last]
    columns = ["speech dBFS", "rubbing", *ratios, *extra]
    return [
        title,
        "",
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]


def fewest_heard(by_talker: dict[audio.Talker, list[Outcome]]) -> str:
    """The talker with the fewest clips heard (then the least voice counted), as
    'name (heard/total)'; '-' when every clip was heard."""
    if all(o.heard.heard for outcomes in by_talker.values() for o in outcomes):
        return "-"

    def score(talker: audio.Talker) -> tuple[int, float]:
        outcomes = by_talker[talker]
        return sum(o.heard.heard for o in outcomes), sum(o.heard.heard_s for o in outcomes)

    worst = min(by_talker, key=score)
    return f"{worst.name} ({heard_count(by_talker[worst])})"


def rubbed_speech(
    library: audio.Library, talkers: Sequence[audio.Talker], sentences: Sequence[str]
) -> Table:
    """Every sentence alone over every kind of rubbing at every ratio, at each speech
    level: heard and when, the talker with the fewest heard per row, and the least voice
    counted per cell (the margin over `min_voice_s`)."""
    lines = ratio_header(
        "### A caller speaking over cloth rubbing, one sentence: heard, and the time from "
        "the first word to `heard` (median/most, s)",
        "fewest heard (over the row)",
    )
    margins = ratio_header(
        f"### The same: the least voice counted per cell, s (heard at {SETTINGS.min_voice_s:g} s)"
    )
    grid: dict[str, dict[str, str]] = {}
    missed = 0
    for level, rubbing in rubbing_rows():
        row = f"{level:g} dBFS, {rubbing.name}"
        grid[row] = {}
        by_talker: dict[audio.Talker, list[Outcome]] = {talker: [] for talker in talkers}
        cells, least = [], []
        for ratio in audio.RUBBING_RATIOS_DB:
            outcomes = []
            for talker in talkers:
                mine = run(
                    [library.rubbing_clip(s, talker, level, rubbing, ratio) for s in sentences]
                )
                by_talker[talker] += mine
                outcomes += mine
            grid[row][f"{ratio:+g}"] = heard_count(outcomes)
            cells.append(sweep_cell(outcomes))
            least.append(f"{min(o.heard.heard_s for o in outcomes):.2f}")
            if ratio >= RUBBING_TARGET_RATIO_DB:
                missed += sum(not o.heard.heard for o in outcomes)
        lines.append(
            f"| {level:g} | {rubbing.name} | {' | '.join(cells)} | {fewest_heard(by_talker)} |"
        )
        margins.append(f"| {level:g} | {rubbing.name} | {' | '.join(least)} |")
        logger.info("rubbing: %s done", row)
    figures: dict[str, object] = {
        "rubbing": grid,
        "rubbing_all_heard_down_to_dB": {
            row: all_heard_down_to(cells) for row, cells in grid.items()
        },
        "speech_target_missed": missed,
    }
    return [*lines, "", *margins], figures


def rubbed_calls(
    library: audio.Library, talkers: Sequence[audio.Talker], sentences: Sequence[str]
) -> Table:
    """A caller who goes on: the first two sentences in a row (the call for help, then
    what happened), over every kind of rubbing at every ratio: heard of the talkers, and
    the least voice counted."""
    lines = ratio_header(
        f"### A caller who goes on: {len(sentences[:2])} sentences in a row over cloth "
        "rubbing: callers heard, and the least voice counted (s)"
    )
    grid: dict[str, dict[str, str]] = {}
    for level, rubbing in rubbing_rows():
        row = f"{level:g} dBFS, {rubbing.name}"
        grid[row] = {}
        cells = []
        for ratio in audio.RUBBING_RATIOS_DB:
            heard = []
            for talker in talkers:
                clips = [
                    library.rubbing_clip(s, talker, level, rubbing, ratio) for s in sentences[:2]
                ]
                heard.append(listen(audio.to_pcm(np.concatenate([c.samples for c in clips]))))
            count = f"{sum(h.heard for h in heard)}/{len(heard)}"
            grid[row][f"{ratio:+g}"] = count
            cells.append(f"{count} {min(h.heard_s for h in heard):.2f}")
        lines.append(f"| {level:g} | {rubbing.name} | {' | '.join(cells)} |")
    return lines, {"rubbing_two_sentences": grid}


def rubbing_alone(library: audio.Library, noise_s: float) -> Table:
    """Each kind of rubbing alone at every level the mixes put it at: seconds counted."""
    levels = sorted(
        {level - ratio for level, _ in rubbing_rows() for ratio in audio.RUBBING_RATIOS_DB},
        reverse=True,
    )
    lines = level_header(
        f"### The rubbing alone ({noise_s:g} s each) at every level the mixes put it at: "
        "seconds counted as voice",
        levels,
    )
    lines[2] = lines[2].replace("| class |", "| rubbing |", 1)
    heard_where = []
    most: tuple[float, str] = (0.0, "")
    for rubbing in audio.RUBBINGS:
        cells = []
        for level in levels:
            heard = listen(library.noise_clip(rubbing.kind, level, noise_s, rubbing.phone_band).pcm)
            where = f"{rubbing.name} alone at {level:g} dBFS"
            most = max(most, (heard.heard_s, where))
            heard_where += [where] if heard.heard else []
            cells.append(seconds_cell(heard))
        lines.append(f"| {rubbing.name} | " + " | ".join(cells) + " |")
    return lines, heard_figures("rubbing_alone", heard_where, most)


def rubbed_whisper(library: audio.Library, sentences: Sequence[str]) -> Table:
    """espeak-ng's whisper (unvoiced, not heard by design) over every kind of rubbing:
    the most seconds any sentence counted, per ratio."""
    lines = ratio_header(
        "### Whispered speech over cloth rubbing, one sentence: the most seconds counted as "
        f"voice of {len(sentences)}"
    )
    heard_where = []
    for level, rubbing in rubbing_rows():
        cells = []
        for ratio in audio.RUBBING_RATIOS_DB:
            clips = [
                library.under_rubbing(library.speech_clip(s, audio.WHISPER, level), rubbing, ratio)
                for s in sentences
            ]
            outcomes = run(clips)
            heard_where += [
                f"whisper at {level:g} dBFS, {o.clip.detail}" for o in outcomes if o.heard.heard
            ]
            cells.append(seconds_cell(max((o.heard for o in outcomes), key=lambda h: h.heard_s)))
        lines.append(f"| {level:g} | {rubbing.name} | {' | '.join(cells)} |")
    return lines, {"rubbing_whisper_heard": heard_where}


def rubbed_noise(library: audio.Library, noise_s: float) -> Table:
    """Every noise class with each kind of rubbing under it, as the speech is mixed (the
    class at each speech level, the rubbing each ratio under it): the most seconds any
    mix counted, and where (also in the figures, per class and rubbing, where heard)."""
    headings = [rubbing.name for rubbing in audio.RUBBINGS]
    lines = [
        f"### Noise with cloth rubbing under it ({noise_s:g} s each): the most seconds "
        "counted as voice at any level and ratio (at which)",
        "",
        "| class | " + " | ".join(headings) + " |",
        "| --- | " + " | ".join("---" for _ in headings) + " |",
    ]
    heard_where: list[str] = []
    most: tuple[float, str] = (0.0, "")
    for phone_band in (False, True):
        for kind in (*audio.NOISES, *audio.BEYOND_TARGETS):
            if kind == audio.SILENCE:  # silence with rubbing under it is the rubbing alone
                continue
            label = f"{kind} (phone band)" if phone_band else kind
            beyond = kind in audio.BEYOND_TARGETS
            cells = []
            for rubbing in audio.RUBBINGS:
                top: tuple[float, str, bool] = (0.0, "", False)
                for level in audio.RUBBING_SPEECH_LEVELS_DBFS:
                    clip = library.noise_clip(kind, level, noise_s, phone_band)
                    for ratio in audio.RUBBING_RATIOS_DB:
                        heard = listen(library.under_rubbing(clip, rubbing, ratio).pcm)
                        where = f"{level:g} dBFS, {ratio:+g} dB"
                        top = max(top, (heard.heard_s, where, heard.heard))
                if not beyond:
                    where = f"{label} at {top[1]} over {rubbing.name}"
                    most = max(most, (top[0], where))
                    heard_where += [where] if top[2] else []
                cell = "0.00" if top[0] == 0 else f"{top[0]:.2f} ({top[1]})"
                cells.append(f"**heard {cell}**" if top[2] and not beyond else cell)
            suffix = ", beyond the targets" if beyond else ""
            lines.append(f"| {label}{suffix} | " + " | ".join(cells) + " |")
        logger.info("rubbing: noise %s done", "phone band" if phone_band else "as made")
    return lines, heard_figures("rubbing_noise", heard_where, most)


def rubbing_world(
    library: audio.Library,
    talkers: Sequence[audio.Talker],
    sentences: Sequence[str],
    noise_s: float,
) -> Table:
    """A caller speaking while the phone rubs against cloth: every sentence alone and a
    caller who goes on, at each speech level over each kind of rubbing at each ratio;
    then what is not a voice with the same rubbing: the rubbing alone at the mixes'
    levels, a whisper over it, every noise class with it under."""
    lines: list[str] = []
    figures: dict[str, object] = {}
    for part in (
        rubbed_speech(library, talkers, sentences),
        rubbed_calls(library, talkers, sentences),
        rubbing_alone(library, noise_s),
        rubbed_whisper(library, sentences),
        rubbed_noise(library, noise_s),
    ):
        lines += [*part[0], ""]
        figures |= part[1]
    heard_where: list[str] = []
    for key in ("rubbing_alone_heard", "rubbing_whisper_heard", "rubbing_noise_heard"):
        found = figures[key]
        heard_where += [str(where) for where in found] if isinstance(found, list) else []
    figures["noise_heard"] = heard_where
    return lines[:-1], figures


def cpu_ms_per_audio_s(pcm: bytes, chunk_s: float | None, repeat: int) -> float:
    """Process time per second of audio for one detector fed `chunk_s` pieces."""
    step = len(pcm) if chunk_s is None else round(chunk_s * audio.RATE_HZ) * 2
    best = float("inf")
    for _ in range(repeat):
        detector = VoiceDetector(SETTINGS)
        started = time.process_time()
        for start in range(0, len(pcm), step):
            detector.feed(pcm[start : start + step])
        best = min(best, time.process_time() - started)
    return 1000 * best / (len(pcm) / 2 / audio.RATE_HZ)


def cost_table(
    library: audio.Library, talkers: Sequence[audio.Talker], sentences: Sequence[str]
) -> Table:
    """CPU cost per second of audio: continuous loud speech (every frame analysed in
    full) and a quiet line (frames stop at the level check)."""
    clips = [library.speech_clip(s, t, -20).samples for t in talkers[:2] for s in sentences]
    speech = np.concatenate(clips)
    loud = audio.to_pcm(np.tile(speech, max(1, int(np.ceil(30 * audio.RATE_HZ / len(speech))))))
    quiet = audio.to_pcm(library.noise_clip(audio.SILENCE, 0.0, 30.0).samples)
    lines = [
        "### Cost: CPU ms per second of audio (one core, best of 3)",
        "",
        "| audio | fed 20 ms at a time | fed 100 ms | fed 1 s (VoiceListener) | fed whole |",
        "| --- | --- | --- | --- | --- |",
    ]
    figures: dict[str, object] = {}
    speech_listener = 0.0
    for key, name, pcm in (
        ("speech", "speech (every frame loud)", loud),
        ("quiet", "quiet line", quiet),
    ):
        costs = [cpu_ms_per_audio_s(pcm, chunk, 3) for chunk in (0.02, 0.1, 1.0, None)]
        lines.append(f"| {name} | " + " | ".join(f"{c:.2f}" for c in costs) + " |")
        for chunk_name, cost in zip(("20ms", "100ms", "1s", "whole"), costs, strict=True):
            figures[f"cpu_ms_per_audio_s_{key}_{chunk_name}"] = round(cost, 2)
        if key == "speech":
            speech_listener = costs[2]
    share = LINES * speech_listener / 10  # ms per 1000 ms, as a percentage
    lines += [
        "",
        f"{LINES} lines listening to speech at once, fed 1 s: {share:.1f} % of one core.",
    ]
    figures[f"cpu_percent_core_{LINES}_lines"] = round(share, 1)
    return lines, figures


def timed(what: str, make: Callable[[], Table]) -> Table:
    """Run one part, adding its wall time to its figures."""
    started = time.perf_counter()
    lines, figures = make()
    figures[f"{what}_wall_s"] = round(time.perf_counter() - started, 1)
    return lines, figures


def benchmark_name(args: argparse.Namespace) -> str:
    """The name the JSON line gives the run: which world was swept."""
    for flag, name in (
        ("reverberant", "voice-reverberant"),
        ("phone_processing", "voice-phone-processing"),
        ("rubbing", "voice-rubbing"),
        ("codecs", "voice-codecs"),
        ("muffled", "voice-muffled"),
    ):
        if getattr(args, flag):
            return name
    return "voice"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep; print the tables and the JSON line; 1 if a target was missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 voices x 2 sentences, 10 s noise")
    parser.add_argument("--noise-s", type=float, default=None, help="seconds of each noise")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    world = parser.add_mutually_exclusive_group()
    world.add_argument(
        "--muffled", action="store_true", help="sweep the muffled caller and the pocket talk"
    )
    world.add_argument(
        "--reverberant", action="store_true", help="sweep a caller in echoing rooms, and noise"
    )
    world.add_argument(
        "--phone-processing",
        action="store_true",
        help="sweep comfort noise and a caller through a handset's noise suppression",
    )
    world.add_argument(
        "--codecs",
        action="store_true",
        help="sweep a caller and every noise class through the network's speech codecs",
    )
    world.add_argument(
        "--rubbing",
        action="store_true",
        help="sweep a caller speaking while the phone rubs against cloth, and the same mixes "
        "with no voice",
    )
    parser.add_argument(
        "--level-dbfs", type=float, default=None, help="the level gate that starts a run"
    )
    parser.add_argument(
        "--level-hold-dbfs", type=float, default=None, help="the level that keeps a run going"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    missing = audio.missing_tools()
    if missing:
        logger.error("missing %s: apt-get install them (./dev test does)", ", ".join(missing))
        return 2
    global SETTINGS
    defaults = VoiceSettings()
    SETTINGS = VoiceSettings(
        level_dbfs=defaults.level_dbfs if args.level_dbfs is None else args.level_dbfs,
        level_hold_dbfs=(
            defaults.level_hold_dbfs if args.level_hold_dbfs is None else args.level_hold_dbfs
        ),
    )
    talkers = audio.TALKERS[:3] if args.quick else audio.TALKERS
    sentences = audio.SENTENCES[:2] if args.quick else audio.SENTENCES
    pairs = POCKET_PAIRS[:1] if args.quick else POCKET_PAIRS
    noise_s = args.noise_s or (audio.NOISE_S if args.quick else 36.0)
    library = audio.Library()
    started = time.perf_counter()
    if args.reverberant:
        parts = [
            timed(
                "reverberant",
                lambda: reverberant_world(library, talkers, sentences, noise_s, args.quick),
            )
        ]
    elif args.phone_processing:
        parts = [
            timed(
                "phone_processing",
                lambda: phone_processing_world(library, talkers, sentences, noise_s, args.quick),
            )
        ]
    elif args.rubbing:
        parts = [timed("rubbing", lambda: rubbing_world(library, talkers, sentences, noise_s))]
    elif args.codecs:
        parts = [
            timed("codecs", lambda: codec_world(library, talkers, sentences, noise_s, args.quick))
        ]
    elif args.muffled:
        parts = [
            timed("muffled", lambda: muffled_world(library, talkers, sentences, pairs)),
            timed(
                "noise",
                lambda: noise_table(library, noise_s, QUIET_NOISE_LEVELS_DBFS, beyond=False),
            ),
            timed("pocket", simulator_pocket),
        ]
    else:
        parts = [
            timed("speech", lambda: speech_by_level(library, talkers, sentences)),
            timed("recorded", lambda: recorded_and_whispered(library, sentences)),
            timed("street", lambda: street(library, talkers, sentences)),
            timed("noise", lambda: noise_table(library, noise_s)),
            timed("cost", lambda: cost_table(library, talkers, sentences)),
        ]
    figures: dict[str, object] = {
        "benchmark": benchmark_name(args),
        "quick": args.quick,
        "level_dbfs": SETTINGS.level_dbfs,
        "level_hold_dbfs": SETTINGS.level_hold_dbfs,
    }
    for lines, part_figures in parts:
        if not args.json_only:
            print("\n".join(lines) + "\n")
        figures.update(part_figures)
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    missed = (
        figures.get("speech_target_missed", 0) != 0
        or bool(figures["noise_heard"])
        or bool(figures.get("comfort_noise_heard"))
    )
    figures["targets_met"] = not missed
    print(json.dumps(figures))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
