"""The console's words for a line service that has stopped, never started, or a web
server the page cannot reach, in Bahasa Indonesia and English (see `web_ui.core.i18n`). The
console's script gets every `console.*` and `state.*` key."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "console.service_down_title": (
        "Layanan saluran Siaga BERHENTI: panggilan tidak disaring",
        "The Siaga line service has STOPPED: calls are not being screened",
    ),
    "console.service_down_text": (
        "Terakhir terdengar {time}. Status saluran di bawah tidak lagi dilaporkan, dan "
        "tombol Angkat di konsol tidak bekerja. Angkat setiap panggilan di telepon meja, "
        "lalu segera beri tahu teknisi.",
        "Last heard from at {time}. The line states below are no longer reported, and "
        "the console's Answer button does not work. Answer every call on the desk phones, "
        "and tell the technician now.",
    ),
    "console.service_never_text": (
        "Layanan saluran belum pernah berjalan pada basis data ini: tidak ada saluran yang "
        "disaring atau dilaporkan. Angkat setiap panggilan di telepon meja, lalu segera "
        "beri tahu teknisi.",
        "The line service has never run on this database: no line is screened or "
        "reported. Answer every call on the desk phones, and tell the technician now.",
    ),
    "console.service_down_badge": ("Layanan saluran berhenti", "Line service stopped"),
    "console.server_lost_title": (
        "Konsol tidak terhubung ke server Siaga",
        "The console cannot reach the Siaga server",
    ),
    "console.server_lost_text": (
        "Sejak {time} halaman ini tidak menerima kabar; yang tampil di bawah mungkin sudah "
        "usang. Angkat panggilan di telepon meja. Jika pesan ini tidak hilang dalam satu "
        "menit, beri tahu teknisi.",
        "Since {time} this page has heard nothing; what it shows below may be out of "
        "date. Answer calls on the desk phones. If this does not go away within a "
        "minute, tell the technician.",
    ),
    "state.not_reported": (
        "Tidak diketahui (tidak dilaporkan)",
        "Unknown (not reported)",
    ),
}
