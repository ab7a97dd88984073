"""The words of the lines page, in Bahasa Indonesia and English (see `web_ui.i18n`)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "lines.title": ("Saluran", "Lines"),
    "lines.intro": (
        "Setiap modem: kondisi, sinyal, jaringan, dan kesalahan terakhir. Saluran yang "
        "dinonaktifkan melepas port modemnya sehingga SIM atau modem dapat diganti; "
        "panggilan yang sedang berlangsung tidak pernah diputus.",
        "Every modem: its state, signal, network and last error. A disabled line lets go "
        "of its modem's port so the SIM or the modem can be swapped; a call in progress is "
        "never cut.",
    ),
    "lines.none": (
        "Belum ada saluran: layanan saluran belum melaporkan satu pun.",
        "No lines yet: the line service has not reported any.",
    ),
    "lines.line": ("Saluran {line}", "Line {line}"),
    "lines.not_reported": ("Belum dilaporkan", "Not reported yet"),
    "lines.off_in_config": ("Nonaktif (konfigurasi)", "Off (configuration)"),
    "lines.since": ("sejak {time}", "since {time}"),
    "lines.family": ("Jenis modem", "Modem family"),
    "lines.model": ("Model", "Model"),
    "lines.imei": ("IMEI", "IMEI"),
    "lines.desk": ("Meja operator", "Operator desk"),
    "lines.signal": ("Sinyal", "Signal"),
    "lines.signal_value": (
        "{percent} % ({dbm} dBm, CSQ {csq})",
        "{percent} % ({dbm} dBm, CSQ {csq})",
    ),
    "lines.signal_unknown": ("Tidak diketahui (CSQ {csq})", "Unknown (CSQ {csq})"),
    "lines.network": ("Jaringan", "Network"),
    "lines.registration.home": ("Terdaftar (jaringan sendiri)", "Registered (home network)"),
    "lines.registration.roaming": ("Terdaftar (roaming)", "Registered (roaming)"),
    "lines.registration.searching": ("Mencari jaringan", "Searching for a network"),
    "lines.registration.denied": ("Pendaftaran ditolak", "Registration denied"),
    "lines.registration.idle": ("Tidak terdaftar", "Not registered"),
    "lines.registration.unknown": ("Tidak diketahui", "Unknown"),
    "lines.last_error": ("Kesalahan terakhir", "Last error"),
    "lines.state_detail": ("Kemampuan", "Capability"),
    "lines.no_value": ("-", "-"),
    "lines.service": ("Layanan", "Service"),
    "lines.in_service": ("Aktif", "In service"),
    "lines.out_of_service": ("Dinonaktifkan", "Disabled"),
    "lines.changed_by": ("oleh {name}, {time}", "by {name}, {time}"),
    "lines.disable": ("Nonaktifkan saluran", "Disable the line"),
    "lines.enable": ("Aktifkan saluran", "Enable the line"),
    "lines.disable_help": (
        "Port modem dilepas agar SIM atau modem dapat diganti. Tidak dapat dilakukan "
        "selama ada panggilan.",
        "The modem's port is released so the SIM or the modem can be swapped. Not possible "
        "while a call is in progress.",
    ),
    "lines.disable_pending": (
        "Menunggu layanan saluran menonaktifkan saluran ini (setelah panggilannya selesai, "
        "atau saat layanan berjalan).",
        "Waiting for the line service to take this line out of service (once its call "
        "ends, or when the service runs).",
    ),
    "lines.enable_pending": (
        "Menunggu layanan saluran mengaktifkan kembali saluran ini.",
        "Waiting for the line service to bring this line back.",
    ),
    "lines.disabled_in_config": (
        "Dinonaktifkan di berkas konfigurasi (enabled = false): ubah berkasnya untuk "
        "memakai saluran ini.",
        "Disabled in the configuration file (enabled = false): change the file to use this line.",
    ),
    "lines.test": ("Uji AT", "AT test"),
    "lines.test_command": ("Perintah", "Command"),
    "lines.test_submit": ("Kirim", "Send"),
    "lines.test_help": (
        "Hanya perintah baca dari daftar ini; dikirim ketika saluran siap (tanpa panggilan).",
        "Only the read-only commands of this list; sent when the line is idle (no call).",
    ),
    "lines.latest_test": ("{command} oleh {name}, {time}", "{command} by {name}, {time}"),
    "lines.answer": ("Jawaban modem", "The modem's answer"),
    "lines.test_pending": (
        "Menunggu jawaban dari layanan saluran.",
        "Waiting for the line service's answer.",
    ),
    "lines.test_not_answering": (
        "Layanan saluran tidak menjawab: apakah sedang berjalan?",
        "The line service does not answer: is it running?",
    ),
    "lines.result.ok": ("OK", "OK"),
    "lines.result.error": ("Modem menjawab dengan kesalahan", "The modem answered an error"),
    "lines.result.no_such_line": (
        "Layanan saluran tidak menjalankan saluran ini",
        "The line service does not run this line",
    ),
    "lines.result.not_ready": (
        "Saluran tidak siap (ada panggilan, sedang memulai, gagal, atau dinonaktifkan)",
        "The line is not ready (a call, starting, failed or disabled)",
    ),
    "lines.result.refused": ("Perintah ditolak", "Command refused"),
    "lines.result.expired": (
        "Kedaluwarsa (layanan saluran dimulai ulang)",
        "Expired (the line service restarted)",
    ),
    "state.disabled": ("Dinonaktifkan", "Disabled"),
    "done.line_enabled": ("Saluran diaktifkan.", "Line enabled."),
    "done.line_disabled": ("Saluran dinonaktifkan.", "Line disabled."),
    "error.line_not_found": ("Saluran tidak ditemukan.", "Line not found."),
    "error.line_disabled_in_config": (
        "Saluran ini dinonaktifkan di berkas konfigurasi.",
        "This line is disabled in the configuration file.",
    ),
    "error.line_in_call": (
        "Saluran sedang menangani panggilan: coba lagi setelah panggilan selesai.",
        "The line is handling a call: try again once the call has ended.",
    ),
    "error.at_command_not_allowed": (
        "Perintah itu tidak ada di daftar uji.",
        "That command is not on the test list.",
    ),
    "action.lines.enable": ("Saluran diaktifkan", "Line enabled"),
    "action.lines.disable": ("Saluran dinonaktifkan", "Line disabled"),
    "action.lines.at_test": ("Uji AT saluran", "Line AT test"),
}
