"""The centre's kinds of genuine call as the web UI offers and names them.

The web UI is a process of its own (`siaga web`). It takes the kinds from the
configuration the line service published at its start, `service_state.base_config` (as
the settings and lines pages do), and not from the file `siaga web` was started with:
the service's desk checks a verdict against its own `site.genuine_kinds`, so the console
offers exactly what the desk will accept. `site` is not a section the web UI can change
while the service runs (`appliance.settings.LIVE_SECTIONS`), so the published base is what
is in force. On a database the line service never ran on, the defaults stand in.

A kind's name, in this order: `site.kind_labels` (one name for every language), the
message catalogue's `disposition.genuine.<kind>`, or the slug itself with spaces for
underscores, capitalised (`flood_relief` -> "Flood relief").
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from appliance.config import SiteConfig
from appliance.model import DEFAULT_GENUINE_KINDS, GENUINE_PREFIX, genuine_kind, is_kind
from appliance.store.status import base_config
from web_ui.core.i18n import has_message, translate
from web_ui.users.service import Language

logger = logging.getLogger(__name__)


def humanise(kind: str) -> str:
    """A kind the catalogue does not know, in words: `flood_relief` -> "Flood relief"."""
    return kind.replace("_", " ").capitalize()


@dataclass(frozen=True)
class KindCatalogue:
    """The configured kinds, in the order of the console's buttons, and their names."""

    kinds: tuple[str, ...] = DEFAULT_GENUINE_KINDS
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def label(self, kind: str, language: Language) -> str:
        """The name of `kind` shown to a user of `language`."""
        if kind in self.labels:
            return self.labels[kind]
        key = f"disposition.genuine.{kind}"
        return translate(language, key) if has_message(key) else humanise(kind)

    def disposition_label(self, disposition: str, language: Language) -> str:
        """Any disposition in words; one this version does not know stays as it is."""
        kind = genuine_kind(disposition)
        if kind is not None and is_kind(kind):
            return self.label(kind, language)
        key = f"disposition.{disposition}"
        return translate(language, key) if has_message(key) else disposition

    def genuine_values(self) -> tuple[str, ...]:
        """`genuine:<kind>` for each configured kind, in order."""
        return tuple(GENUINE_PREFIX + kind for kind in self.kinds)


DEFAULT_CATALOGUE = KindCatalogue()


def configured_kinds(conn: sqlite3.Connection) -> KindCatalogue:
    """The kinds of the configuration the line service last started on (else defaults)."""
    base = base_config(conn)
    return DEFAULT_CATALOGUE if base is None else _catalogue_of(base)


@lru_cache(maxsize=4)
def _catalogue_of(base_config: str) -> KindCatalogue:
    """Parsed once per published configuration: pages ask on every request."""
    try:
        site = json.loads(base_config).get("site") or {}
        config = SiteConfig.model_validate(site)
    except (ValueError, AttributeError, TypeError) as exc:  # pydantic's errors are ValueErrors
        logger.warning("service_state.base_config has no usable [site] (%s): default kinds", exc)
        return DEFAULT_CATALOGUE
    return KindCatalogue(config.genuine_kinds, MappingProxyType(dict(config.kind_labels)))
