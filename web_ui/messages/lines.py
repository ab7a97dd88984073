"""The words of the lines page, in Bahasa Indonesia and English (see `web_ui.core.i18n`)."""

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
    # `percent` written as every page writes one (`68%`); a no-break space keeps a figure
    # with its unit (`-71 dBm`, `CSQ 21`) on one line.
    "lines.signal_value": (
        "{percent} ({dbm}\u00a0dBm, CSQ\u00a0{csq})",
        "{percent} ({dbm}\u00a0dBm, CSQ\u00a0{csq})",
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
    # Lines configured on the page (web_ui/lines/config_form.py).
    "lines.source.database": (
        "Saluran yang berlaku: yang diatur di halaman ini (basis data). Entri `[[lines]]` di "
        "berkas konfigurasi tidak dipakai selama halaman ini memiliki saluran.",
        "Lines in force: those set on this page (the database). The configuration file's "
        "`[[lines]]` are not used while this page has lines.",
    ),
    "lines.source.file": (
        "Saluran yang berlaku: `[[lines]]` dari berkas konfigurasi. Perubahan pertama di halaman "
        "ini menyalinnya ke basis data, lalu halaman ini yang berlaku.",
        "Lines in force: the configuration file's `[[lines]]`. The first change on this page "
        "copies them into the database, and from then on this page's lines are in force.",
    ),
    "lines.source.file_unknown": (
        "Saluran di berkas konfigurasi belum diketahui: layanan saluran belum pernah berjalan "
        "pada basis data ini.",
        "The configuration file's lines are not known yet: the line service has never run "
        "on this database.",
    ),
    "lines.applied.applied": (
        "Layanan saluran menjalankan perubahan terakhir.",
        "The line service runs the latest change.",
    ),
    "lines.applied.pending": (
        "Menunggu layanan saluran menerapkan perubahan (dalam satu detik saat berjalan).",
        "Waiting for the line service to apply the change (within a second while it runs).",
    ),
    "lines.applied.waiting": (
        "Diterapkan, kecuali saluran {lines}: menunggu panggilannya selesai (tidak diputus).",
        "Applied, except lines {lines}: waiting for their calls to end (never cut).",
    ),
    "lines.applied.not_applied": (
        "Saluran dari halaman ini belum dipakai: layanan saluran tidak berjalan, atau "
        "berjalan sebagai demo/simulasi. `siaga run` memakainya saat dimulai.",
        "The lines of this page are not in use yet: the line service is not running, or "
        "runs a demo/simulation. `siaga run` uses them when it starts.",
    ),
    "lines.applied.refused": (
        "Layanan saluran menolak saluran yang tersimpan (lihat log); saluran yang berjalan "
        "tetap dipakai.",
        "The line service refused the stored lines (see its log); the lines running stay.",
    ),
    "lines.add": ("Tambah saluran", "Add a line"),
    "lines.edit": ("Ubah", "Edit"),
    "lines.remove": ("Hapus saluran", "Remove the line"),
    "lines.remove_help": (
        "Saluran dihentikan dan port modemnya dilepas; panggilan yang sedang berlangsung "
        "diselesaikan dulu.",
        "The line is stopped and its modem's port released; a call in progress ends first.",
    ),
    "lines.overrides_file": (
        "Menggantikan entri berkas konfigurasi (berbeda: {fields}).",
        "Overrides the configuration file's entry (differs in: {fields}).",
    ),
    "lines.same_as_file": (
        "Sama dengan entri di berkas konfigurasi.",
        "The same as the configuration file's entry.",
    ),
    "lines.overridden_title": (
        "Entri berkas konfigurasi yang tidak berlaku",
        "Configuration file entries not in force",
    ),
    "lines.overridden_intro": (
        "Halaman ini yang berlaku: entri `[[lines]]` berikut di berkas konfigurasi diabaikan.",
        "This page's lines are in force: these `[[lines]]` entries of the file are ignored.",
    ),
    "lines.port": ("Port", "Port"),
    "lines.origin.database": ("halaman ini", "this page"),
    "lines.origin.file": ("berkas konfigurasi", "the configuration file"),
    "lines.configured_in": ("Diatur di", "Configured in"),
    "lines.disabled_in_settings": (
        "Dinonaktifkan di pengaturan saluran (Aktif tidak dicentang): ubah saluran untuk "
        "memakainya.",
        "Disabled in the line's settings (Enabled unticked): edit the line to use it.",
    ),
    "lines.form.add_title": ("Tambah saluran", "Add a line"),
    "lines.form.edit_title": ("Ubah saluran {line}", "Edit line {line}"),
    "lines.form.intro": (
        "Port: pilih nama tetap slot USB (dari aturan udev) atau ketik path lain. Nilai "
        "diperiksa seperti entri `[[lines]]` di berkas konfigurasi.",
        "Port: pick a USB slot's stable name (from the udev rules) or type another path. "
        "Values are checked as a `[[lines]]` entry of the configuration file is.",
    ),
    "lines.form.problems": (
        "Saluran tidak disimpan. Periksa isian berikut:",
        "The line was not saved. Check these fields:",
    ),
    "lines.form.save": ("Simpan", "Save"),
    "lines.form.cancel": ("Batal", "Cancel"),
    "lines.form.slots": ("Slot USB", "USB slots"),
    "lines.form.slot": (
        "{port}: slot {line}, {family}, port USB {usb}",
        "{port}: slot {line}, {family}, USB port {usb}",
    ),
    "lines.form.no_slots": (
        "Tidak ada aturan udev Siaga: ketik path port.",
        "No Siaga udev rules found: type the port's path.",
    ),
    "lines.field.name": ("Nama", "Name"),
    "lines.field.port": ("Port AT", "AT port"),
    "lines.field.family": ("Jenis modem", "Modem family"),
    "lines.field.voice_port": ("Port suara", "Voice port"),
    "lines.field.desk": ("Meja operator", "Operator desk"),
    "lines.field.deflect_to": ("Alihkan ke nomor", "Deflect to number"),
    "lines.field.fail_over_to": ("Nomor cadangan", "Backup number"),
    "lines.field.fail_over_after_s": ("Alihkan setelah (detik)", "Forward after (seconds)"),
    "lines.field.usb_port": ("Port USB (reset)", "USB port (reset)"),
    "lines.field.imei": ("IMEI yang diharapkan", "Expected IMEI"),
    "lines.field.baudrate": ("Laju baud", "Baud rate"),
    "lines.field.reject_method": ("Cara menolak", "Reject method"),
    "lines.field.call_waiting": ("Panggilan menunggu", "Call waiting"),
    "lines.field.rtscts": ("Kontrol aliran RTS/CTS", "RTS/CTS flow control"),
    "lines.field.listen": (
        "Dengarkan suara saat tantangan",
        "Listen for a voice while challenging",
    ),
    "lines.field.enabled": ("Aktif", "Enabled"),
    "lines.field.lines": ("Saluran", "Lines"),
    "lines.help.name": (
        "Huruf, angka, titik, - dan _; tidak dapat diubah kemudian.",
        "Letters, digits, ., - and _; cannot be changed later.",
    ),
    "lines.help.family": (
        "auto: dikenali dari AT+CGMI/AT+CGMM.",
        "auto: detected from AT+CGMI/AT+CGMM.",
    ),
    "lines.help.voice_port": (
        "SIM7600, EC25, Huawei: port audio panggilan (kosong: tidak ada).",
        "SIM7600, EC25, Huawei: the call's audio port (empty: none).",
    ),
    "lines.help.usb_port": (
        "Seperti 1-1.2: langkah terakhir pemulihan me-reset port ini (kosong: dilewati).",
        "Like 1-1.2: the recovery ladder's last step resets it (empty: skipped).",
    ),
    "lines.help.deflect_to": (
        "Panggilan yang diteruskan dialihkan ke nomor ini (AT+CTFR); kosong: tidak.",
        "Passed calls are deflected to this number (AT+CTFR); empty: not.",
    ),
    "lines.help.fail_over_to": (
        "Nomor cadangan pusat (+62...): bila Siaga tidak menjawab atau modem tidak dapat "
        "dihubungi (Siaga atau kotaknya mati), jaringan mengalihkan panggilan ke nomor ini "
        "(AT+CCFC). Tidak saat sibuk. Kosong: tidak ada pengalihan.",
        "The centre's backup number (+62...): when Siaga does not answer or the modem "
        "cannot be reached (Siaga or its box down), the network forwards the call there "
        "(AT+CCFC). Never on busy. Empty: no forwarding.",
    ),
    "lines.help.fail_over_after_s": (
        "5 sampai 30, kelipatan 5: lebih lama dari waktu operator mengangkat panggilan "
        "yang diteruskan.",
        "5 to 30, in steps of 5: longer than an operator takes to pick up a passed call.",
    ),
    "lines.help.call_waiting": (
        "Tolak: penelepon kedua mendengar nada sibuk dan dapat menelepon ulang ke saluran "
        "yang bebas. Saat banjir panggilan, mengabaikannya membuat lebih sedikit penelepon "
        "sungguhan tersambung.",
        "Reject: the second caller hears busy and can redial onto a free line. In a flood, "
        "ignoring them lets fewer genuine callers through.",
    ),
    "lines.family.auto": ("auto (kenali otomatis)", "auto (detect)"),
    "done.line_added": ("Saluran ditambahkan.", "Line added."),
    "done.line_changed": ("Saluran diubah.", "Line changed."),
    "done.line_removed": ("Saluran dihapus.", "Line removed."),
    "error.line_config_invalid": (
        "Saluran tidak disimpan: ada isian yang tidak valid.",
        "The line was not saved: a field is not valid.",
    ),
    "error.line_last": (
        "Saluran terakhir di halaman ini tidak dapat dihapus: tanpa saluran di sini, saluran "
        "di berkas konfigurasi akan berlaku lagi. Ubah berkasnya, atau tambahkan saluran lain "
        "dulu.",
        "The last line on this page cannot be removed: with none here, the configuration "
        "file's lines would be in force again. Change the file, or add another line first.",
    ),
    "action.lines.add": ("Saluran ditambahkan", "Line added"),
    "action.lines.edit": ("Saluran diubah", "Line changed"),
    "action.lines.remove": ("Saluran dihapus", "Line removed"),
}
