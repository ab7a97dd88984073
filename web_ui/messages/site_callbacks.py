"""The words of every site's call-back list on the province hub (`/callbacks`), in Bahasa
Indonesia and English (see `web_ui.core.i18n`). The columns it shares with a box's own
list are the `callbacks.*` words."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "site_callbacks.title": ("Telepon balik semua lokasi", "Call-backs across the sites"),
    "site_callbacks.intro": (
        "Penelepon yang dilepas tanpa sampai ke operator, di setiap kotak setiap lokasi, "
        "yang terbaru lebih dulu.",
        "Callers released without reaching an operator, on every box of every site, newest first.",
    ),
    "site_callbacks.read_only": (
        "Daftar ini hanya untuk dibaca: setiap entri ditelepon balik dan ditandai di konsol "
        "kotak yang mencatatnya, dan tanda itu sampai ke sini selama tautan lokasi itu "
        "tersambung.",
        "This list is read-only: each entry is called back and marked on the console of "
        "the box that listed it, and the mark reaches this list while that site's link "
        "is up.",
    ),
    "site_callbacks.site": ("Lokasi", "Site"),
    "site_callbacks.every_site": ("Semua lokasi", "Every site"),
    "site_callbacks.show": ("Tampilkan", "Show"),
    "site_callbacks.col.site": ("Lokasi", "Site"),
    "site_callbacks.col.appliance": ("Kotak", "Box"),
    "site_callbacks.empty": (
        "Tidak ada yang menunggu ditelepon balik.",
        "Nobody waits to be called back.",
    ),
    "site_callbacks.no_sites": (
        "Belum ada daftar telepon balik dari lokasi mana pun di basis data ini. Di sebuah "
        "kotak, daftarnya sendiri ada di konsol.",
        "No site's call-back list has reached this database yet. On an appliance, its own "
        "list is on the console.",
    ),
    "site_callbacks.to_list": (
        "Telepon balik semua lokasi: {count} terbuka",
        "Call-backs across the sites: {count} open",
    ),
    "error.unknown_callback_site": (
        "Tidak ada daftar telepon balik dari lokasi itu.",
        "No call-back list has come from that site.",
    ),
}
