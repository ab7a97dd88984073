"""The words of the web UI's protections: limits, busy answers, throttling, unlocking
(see `web_ui.core.i18n`)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "error.too_large": (
        "Permintaan terlalu besar; ditolak sebelum dibaca.",
        "The request is too large; it was refused unread.",
    ),
    "error.request_timeout": (
        "Permintaan berhenti sebelum lengkap; sambungan ditutup.",
        "The request stalled before it was complete; the connection was closed.",
    ),
    "login.busy": (
        "Server sedang sibuk memeriksa kata sandi lain. Coba lagi sebentar lagi.",
        "The server is busy checking other passwords. Try again in a moment.",
    ),
    "login.throttled": (
        "Terlalu banyak percobaan masuk dari alamat ini. Coba lagi setelah {seconds} detik.",
        "Too many login attempts from this address. Try again in {seconds} seconds.",
    ),
    "users.locked": (
        "terkunci untuk masuk dari {addresses}",
        "locked out from {addresses}",
    ),
    "users.unlock": ("Buka kunci", "Unlock"),
    "users.locked_list": ("Akun yang terkunci", "Locked accounts"),
    "users.unlock_help": (
        "Akun yang terkunci karena kata sandi salah berulang kali, dengan alamat asal "
        "percobaannya. Pengaturan akun lainnya dilakukan oleh teknisi.",
        "Accounts locked out by repeated wrong passwords, with the addresses the attempts "
        "came from. Everything else about accounts is done by the technician.",
    ),
    "users.none_locked": ("Tidak ada akun yang terkunci.", "No account is locked out."),
    "done.user_unlocked": (
        "Kunci masuk akun itu dibuka dari semua alamat.",
        "The account's login locks were lifted for every address.",
    ),
    "dashboard.alarm.login_lockouts": (
        "Akun berulang kali terkunci karena kata sandi salah",
        "Account locked out repeatedly by wrong passwords",
    ),
    "action.user.unlock": ("Kunci masuk dibuka", "Login lock lifted"),
    "error.too_many_streams": (
        "Terlalu banyak konsol terbuka untuk sesi ini. Tutup tab konsol yang lain.",
        "Too many consoles are open for this session. Close the other console tabs.",
    ),
    "error.date_out_of_range": (
        "Tanggal di luar rentang yang dapat dicari (1970 sampai 2999).",
        "The date is outside the range that can be searched (1970 to 2999).",
    ),
    "action.export.calls": ("Log panggilan diekspor (CSV)", "Call log exported (CSV)"),
    "action.export.report": ("Laporan diekspor (CSV)", "Report exported (CSV)"),
    "action.export.rules": ("Aturan diekspor (CSV)", "Rules exported (CSV)"),
}
