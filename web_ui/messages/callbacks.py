"""The words of the call-back list (console, dashboard, API errors), in Bahasa Indonesia
and English (see `web_ui.core.i18n`). The console's script gets every `callbacks.*` key."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "callbacks.title": ("Daftar telepon balik", "Call-back list"),
    "callbacks.intro": (
        "Penelepon yang dilepas tanpa sampai ke operator. Telepon balik, lalu tandai "
        "hasilnya; setiap tanda tercatat di log audit.",
        "Callers released without reaching an operator. Call them back, then mark the "
        "outcome; every mark is recorded in the audit log.",
    ),
    "callbacks.protocol": (
        "Telepon balik hanya bila tidak ada panggilan menunggu, dan bila ada dua operator "
        "atau lebih, selalu sisakan satu untuk panggilan masuk.",
        "Call back only while no call waits, and with two operators or more, always leave "
        "one free for incoming calls.",
    ),
    "callbacks.flood_title": (
        "Banjir panggilan: Siaga menyaring lebih ketat",
        "Call flood: Siaga is screening harder",
    ),
    "callbacks.flood_no_reason": ("Alasannya tidak dilaporkan", "No reason was reported"),
    "callbacks.flood_text": (
        "{reason}. Panggilan dari sumber banjir ditolak dan tantangannya lebih singkat; "
        "nomor dengan riwayat baik, daftar izin dan penelepon yang menekan tombol tetap "
        "sampai ke Anda. Panggilan yang sampai ke konsol tetap bisa sungguhan: angkat "
        "seperti biasa.",
        "{reason}. Calls from the flood's source are rejected and the challenge is "
        "shorter; numbers with a good history, the allowlist and callers who press the "
        "key still reach you. A call that reaches the console may still be real: answer "
        "it as always.",
    ),
    "callbacks.flood": (
        "Banjir panggilan sedang berlangsung: tunda telepon balik sampai banjir reda. "
        "Penelepon sungguhan menelepon lagi dan saluran terakhir disimpan untuk mereka.",
        "A call flood is on: hold the call-backs until it ends. Genuine callers try "
        "again, and the last line is kept for them.",
    ),
    "callbacks.flood_left": (
        "Banjir panggilan {started} sampai {ended} meninggalkan {count} entri di daftar ini, "
        "hampir semuanya nomor banjir itu sendiri. Tetap terbuka ({kept}): penelepon yang "
        "pernah dinilai sungguhan, yang menelepon lebih dari sekali, dan nomor di luar blok "
        "nomor banjir.",
        "The call flood of {started} to {ended} left {count} entries on this list, nearly "
        "all of them the flood's own numbers. Staying open ({kept}): callers with a genuine "
        "verdict, callers who tried more than once, and numbers outside the flood's blocks.",
    ),
    "callbacks.dismiss_flood": (
        "Tutup {count} entri banjir",
        "Dismiss the flood's {count} entries",
    ),
    "callbacks.dismiss_confirm": (
        "Tutup {count} entri dari banjir {started} sampai {ended}? Mereka tidak akan "
        "ditelepon balik. Tindakan ini tercatat di log audit.",
        "Dismiss {count} entries of the flood of {started} to {ended}? They will not be "
        "called back. This is recorded in the audit log.",
    ),
    "callbacks.flood_dismissed": (
        "{count} entri banjir ditutup; {kept} tetap terbuka.",
        "{count} of the flood's entries dismissed; {kept} stay open.",
    ),
    "callbacks.empty": ("Tidak ada yang perlu ditelepon balik.", "Nobody to call back."),
    "callbacks.count": ("{count} terbuka", "{count} open"),
    "callbacks.more": (
        "Ditampilkan {shown} terbaru dari {count}.",
        "Showing the newest {shown} of {count}.",
    ),
    "callbacks.col.number": ("Nomor", "Number"),
    "callbacks.col.time": ("Waktu", "Time"),
    "callbacks.col.line": ("Saluran", "Line"),
    "callbacks.col.reason": ("Alasan", "Reason"),
    "callbacks.col.heard": ("Yang terdengar", "What was heard"),
    "callbacks.col.attempts": ("Kali", "Times"),
    "callbacks.col.history": ("Riwayat", "History"),
    "callbacks.col.mark": ("Catatan dan tanda", "Note and mark"),
    "callbacks.as_given": ("seperti diterima: {raw}", "as given: {raw}"),
    "callbacks.first": ("pertama {time}", "first {time}"),
    "callbacks.note": ("Catatan (opsional)", "Note (optional)"),
    "callbacks.note_for": ("Catatan untuk {number}", "Note for {number}"),
    "callbacks.done": ("Selesai", "Done"),
    "callbacks.unreachable": ("Tak dapat dihubungi", "Unreachable"),
    "callbacks.marked_done": ("{number} ditandai selesai.", "{number} marked done."),
    "callbacks.marked_unreachable": (
        "{number} ditandai tidak dapat dihubungi.",
        "{number} marked unreachable.",
    ),
    "callbacks.calls_30d": ("{count} panggilan dalam 30 hari", "{count} calls in 30 days"),
    "callbacks.last_verdict": ("penilaian terakhir: {disposition}", "last verdict: {disposition}"),
    "callbacks.status.open": ("terbuka", "open"),
    "callbacks.status.done": ("selesai", "done"),
    "callbacks.status.unreachable": ("tidak dapat dihubungi", "unreachable"),
    "callbacks.status.dismissed": ("ditutup bersama banjir", "dismissed with a flood"),
    # why a caller is on the list (`appliance.store.callbacks.CALLBACK_REASONS`)
    "callbacks.reason.silent_after_challenge": (
        "diam setelah tantangan",
        "silent after the challenge",
    ),
    "callbacks.reason.spoke_without_key": (
        "bersuara tanpa menekan tombol, setelah panggilan senyap dari nomor ini",
        "spoke without pressing the key, after a silent call from this number",
    ),
    "callbacks.reason.hung_up_during_prompt": (
        "menutup saat pesan diputar",
        "hung up during the prompt",
    ),
    "callbacks.reason.rang_while_starting": (
        "berdering saat saluran sedang dinyalakan",
        "rang while the line was starting",
    ),
    "callbacks.reason.waiting_during_flood": (
        "menunggu di saluran sibuk saat banjir panggilan",
        "waiting on a busy line during a flood",
    ),
    "callbacks.reason.found_lines_busy": (
        "menunggu di saluran sibuk, ditolak sibuk",
        "found the lines busy (seen waiting)",
    ),
    "callbacks.reason.released_in_flood": (
        "dilepas saat banjir panggilan (saluran terakhir disimpan)",
        "released in a flood (last line kept free)",
    ),
    "callbacks.reason.wrong_keys": ("menekan tombol yang salah", "pressed the wrong keys"),
    "callbacks.reason.hung_up_waiting": (
        "menutup sebelum petugas menjawab",
        "hung up before an operator answered",
    ),
    "callbacks.reason.line_fault": ("gangguan saluran", "line fault"),
    # what the line heard (the entry's detail)
    "callbacks.heard.voice": ("suara terdengar", "voice heard"),
    "callbacks.heard.no_voice": ("tidak ada suara", "no voice"),
    "callbacks.heard.keys": ("tombol ditekan: {keys}", "keys pressed: {keys}"),
    "callbacks.heard.no_keys": ("tidak menekan tombol", "no key pressed"),
    "callbacks.heard.listened": ("didengarkan {seconds} detik", "listened for {seconds} s"),
    "callbacks.heard.rings": ("berdering {count} kali", "rang {count} times"),
    "callbacks.heard.nothing": ("tidak ada catatan", "nothing recorded"),
    # the dashboard
    "callbacks.open": ("Terbuka", "Open"),
    "callbacks.oldest": ("Terlama", "Oldest"),
    "callbacks.oldest_text": (
        "{number} ({reason}), sejak {time}, menunggu {age}",
        "{number} ({reason}), since {time}, waiting {age}",
    ),
    "callbacks.none_open": (
        "Tidak ada telepon balik yang terbuka.",
        "No call-back is open.",
    ),
    "callbacks.to_console": (
        "Telepon balik dan tandai dari konsol",
        "Call back and mark from the console",
    ),
    # errors and the audit log
    "error.callback_not_found": (
        "Entri telepon balik itu tidak ada.",
        "There is no such call-back entry.",
    ),
    "error.callback_not_open": (
        "Entri ini sudah ditandai (oleh orang lain, atau klik ganda) dan tidak terbuka lagi.",
        "This call-back entry is already marked (by someone else, or a double click): "
        "it is no longer open.",
    ),
    "error.flood_changed": (
        "Banjir lain telah berakhir sejak halaman ini dimuat; periksa daftar lagi.",
        "Another flood has ended since this page was loaded; look at the list again.",
    ),
    "action.callback.done": ("Telepon balik: selesai", "Call-back: done"),
    "action.callback.flood_dismissed": (
        "Telepon balik: entri banjir ditutup",
        "Call-backs: a flood's entries dismissed",
    ),
    "action.callback.unreachable": (
        "Telepon balik: tidak dapat dihubungi",
        "Call-back: unreachable",
    ),
}
