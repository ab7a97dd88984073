"""The catalogues of the larger pages, each in its own module and merged into
`web_ui.core.i18n.MESSAGES` (which refuses a key defined twice). Each module holds one dict,
`MESSAGES`, of `key: (Bahasa Indonesia, English)`, and imports nothing."""
