"""The words of the system page, in Bahasa Indonesia and English (see `web_ui.core.i18n`)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "system.title": ("Sistem", "System"),
    "system.journal_said": ("Jawaban journalctl (apa adanya):", "What journalctl said:"),
    "system.running": ("Yang berjalan", "What runs"),
    "system.version": ("Versi Siaga", "Siaga version"),
    "system.web_uptime": ("Antarmuka web berjalan", "Web UI up for"),
    "system.since": ("sejak {time}", "since {time}"),
    "system.service": ("Layanan saluran", "Line service"),
    "system.last_heartbeat": ("tanda hidup terakhir {time}", "last heartbeat {time}"),
    "system.service_version": ("Versi layanan saluran", "Line service version"),
    "system.version_differs": (
        "Layanan saluran menjalankan versi lain dari antarmuka web: mulai ulang keduanya "
        "setelah pembaruan.",
        "The line service runs another version than the web UI: restart both after an update.",
    ),
    "system.database": ("Basis data", "Database"),
    "system.db_file": ("Berkas", "File"),
    "system.db_size": ("Ukuran", "Size"),
    "system.db_parts": ("berkas utama {main}, log WAL {wal}", "main file {main}, WAL {wal}"),
    "system.disk_free": ("Ruang disk kosong", "Free disk space"),
    "system.free_of": ("{free} dari {total}", "{free} of {total}"),
    "system.table": ("Tabel", "Table"),
    "system.rows": ("Baris", "Rows"),
    # backup
    "system.backup": ("Cadangan", "Backup"),
    "system.backup_help": (
        "Salinan utuh dan konsisten seluruh basis data: panggilan, aturan, pengaturan, "
        "pengguna (dengan hash kata sandi) dan log audit. Rahasia web tidak termasuk. "
        "Simpan berkasnya di tempat aman. Layanan saluran tetap menyaring selama salinan dibuat.",
        "A whole, consistent copy of the database: calls, rules, settings, users (with their "
        "password hashes) and the audit log. The web secret is not in it. Keep the file "
        "somewhere safe. The line service keeps screening while the copy is made.",
    ),
    "system.backup_download": ("Unduh cadangan", "Download a backup"),
    # restore
    "system.restore": ("Pulihkan dari cadangan", "Restore from a backup"),
    "system.restore_help": (
        "Unggah berkas cadangan Siaga. Berkas diperiksa dulu (SQLite utuh, tabel Siaga, "
        "versi skema tidak lebih baru dari program ini) dan belum ada yang diganti: "
        "langkah berikutnya menunjukkan isinya dan meminta konfirmasi.",
        "Upload a Siaga backup file. It is checked first (an intact SQLite file, Siaga's "
        "tables, a schema no newer than this program) and nothing is replaced yet: the next "
        "step shows what it holds and asks you to confirm.",
    ),
    "system.restore_sessions": (
        "Pemulihan mengganti semua data, termasuk pengguna. Setelahnya semua orang, "
        "termasuk Anda, keluar dan harus masuk dengan akun yang ada di cadangan.",
        "A restore replaces all data, users included. Afterwards everyone, you included, is "
        "logged out and must log in with an account from the backup.",
    ),
    "system.restore_file": ("Berkas cadangan", "Backup file"),
    "system.restore_limit": ("Paling besar {size}.", "At most {size}."),
    "system.restore_check": ("Unggah dan periksa", "Upload and check"),
    "system.safety_copies": ("Salinan pengaman", "Safety copies"),
    "system.safety_copies_help": (
        "Dibuat otomatis sebelum setiap pemulihan, di samping basis data. Hapus yang tidak "
        "diperlukan lagi untuk menghemat ruang disk.",
        "Made before every restore, next to the database. Delete those no longer needed to "
        "save disk space.",
    ),
    "system.confirm_title": ("Isi cadangan", "What the backup holds"),
    "system.upload_size": ("Ukuran", "Size"),
    "system.upload_calls": ("Panggilan", "Calls"),
    "system.upload_span": ("Panggilan dari - sampai", "Calls from - to"),
    "system.upload_users": ("Pengguna", "Users"),
    "system.upload_technicians": ("Teknisi aktif", "Enabled technicians"),
    "system.upload_migrated": ("Skema diperbarui", "Schema brought up to date"),
    "system.upload_current": ("sudah versi ini", "already this version's"),
    "system.confirm_replace": (
        "Ini akan mengganti SELURUH isi basis data {db} (panggilan, aturan, pengaturan, "
        "pengguna, log audit) dengan isi cadangan ini.",
        "This will replace ALL of database {db} (calls, rules, settings, users, audit log) "
        "with this backup's contents.",
    ),
    "system.confirm_safety": (
        "Salinan pengaman basis data saat ini dibuat dulu, di sampingnya "
        "(<basis data>.before-restore-...).",
        "A safety copy of the current database is made first, next to it "
        "(<database>.before-restore-...).",
    ),
    "system.confirm_logout": (
        "Semua sesi berakhir: Anda dan semua pengguna lain keluar, lalu masuk lagi dengan akun "
        "dari cadangan ini (teknisi di atas). Akun yang dibuat setelah cadangan ini hilang.",
        "Every session ends: you and every other user are logged out, and log in again with "
        "an account from this backup (the technicians above). Accounts made after this "
        "backup are gone.",
    ),
    "system.confirm_service": (
        "Layanan saluran melihat pemulihan dalam satu detik, berhenti, dan dijalankan lagi "
        "oleh systemd di atas data cadangan, sehingga ingatannya tentang panggilan terakhir "
        "(panggilan berulang, riwayat iseng, banjir) dan batas SMS berasal dari cadangan. "
        "Panggilan yang sedang berlangsung saat itu terputus: pulihkan saat saluran sepi.",
        "The line service notices the restore within a second, stops, and is started again "
        "by systemd on the backup's data, so its memory of recent calls (repeat calls, abuse "
        "history, flood) and its SMS caps come from the backup. Calls in progress at that "
        "moment are cut: restore when the lines are quiet.",
    ),
    "system.confirm_expires": (
        "Unggahan ini disimpan {minutes} menit; setelah itu unggah lagi.",
        "This upload is kept for {minutes} minutes; after that, upload it again.",
    ),
    "system.confirm_type": ("Ketik {word} untuk melanjutkan", "Type {word} to go on"),
    "system.confirm_submit": ("Pulihkan sekarang", "Restore now"),
    "system.cancel": ("Batal", "Cancel"),
    "system.back": ("Kembali ke halaman sistem", "Back to the system page"),
    "system.restored": (
        "Basis data dipulihkan dari cadangan: kini {calls} panggilan.",
        "The database was restored from the backup: {calls} calls now.",
    ),
    "system.restored_safety": (
        "Basis data sebelumnya disimpan sebagai {name}.",
        "The previous database was kept as {name}.",
    ),
    "system.restored_logout": (
        "Semua sesi telah berakhir. Masuk lagi dengan akun dari cadangan.",
        "Every session has ended. Log in again with an account from the backup.",
    ),
    # restore refusals
    "system.restore.too_large": (
        "Berkas terlalu besar (paling banyak 2 GB).",
        "The file is too large (at most 2 GB).",
    ),
    "system.restore.not_sqlite": (
        "Berkas ini bukan basis data SQLite, jadi bukan cadangan Siaga. Tidak ada yang diubah.",
        "This file is not an SQLite database, so not a Siaga backup. Nothing was changed.",
    ),
    "system.restore.damaged": (
        "Berkas cadangan rusak (pemeriksaan integritas SQLite gagal: {problem}). "
        "Tidak ada yang diubah.",
        "The backup file is damaged (SQLite's integrity check failed: {problem}). "
        "Nothing was changed.",
    ),
    "system.restore.not_siaga": (
        "Ini basis data SQLite, tetapi bukan milik Siaga (tidak ada: {missing}). "
        "Tidak ada yang diubah.",
        "This is an SQLite database, but not Siaga's (missing: {missing}). Nothing was changed.",
    ),
    "system.restore.newer": (
        "Cadangan ini dibuat oleh Siaga versi yang lebih baru (migrasi yang tidak dikenal "
        "versi ini: {names}). Perbarui Siaga dulu, lalu pulihkan. Tidak ada yang diubah.",
        "This backup was made by a newer Siaga (migrations this version does not know: "
        "{names}). Update Siaga first, then restore. Nothing was changed.",
    ),
    "system.restore.migration_failed": (
        "Skema cadangan tidak dapat diperbarui ({problem}). Tidak ada yang diubah.",
        "The backup's schema could not be brought up to date ({problem}). Nothing was changed.",
    ),
    "system.restore.unexpected_schema": (
        "Skema cadangan tidak sama dengan skema Siaga ({names}). Tidak ada yang diubah.",
        "The backup's schema is not Siaga's ({names}). Nothing was changed.",
    ),
    "system.restore.no_technician": (
        "Cadangan ini tidak memiliki akun teknisi yang aktif: setelah pemulihan tidak ada "
        "yang dapat mengelola sistem. Tidak ada yang diubah.",
        "This backup holds no enabled technician account: after a restore nobody could "
        "manage the system. Nothing was changed.",
    ),
    "system.restore.service_running": (
        "Nomor panggilan di cadangan (sampai {backup_id}) melewati basis data saat ini "
        "(sampai {live_id}) dan layanan saluran sedang berjalan: panggilan barunya akan "
        "menimpa panggilan cadangan. Hentikan layanan dulu (sudo systemctl stop siaga), "
        "pulihkan, lalu jalankan lagi. Tidak ada yang diubah.",
        "The backup's call numbers (up to {backup_id}) run past this database's (up to "
        "{live_id}) and the line service is running: its new calls would overwrite the "
        "backup's. Stop it first (sudo systemctl stop siaga), restore, then start it again. "
        "Nothing was changed.",
    ),
    "system.restore.expired": (
        "Unggahan ini tidak ada lagi (kedaluwarsa setelah satu jam, atau sudah dipakai). "
        "Unggah cadangan lagi.",
        "This upload is gone (it expires after an hour, or it was used). Upload the backup again.",
    ),
    "system.restore.not_confirmed": (
        "Ketik RESTORE persis seperti tertulis untuk memulihkan.",
        "Type RESTORE exactly as shown to restore.",
    ),
    "system.error.no_space": (
        "Ruang disk tidak cukup: perlu sekitar {needed_mb} MB, tersedia {free_mb} MB. "
        "Tidak ada yang diubah.",
        "Not enough disk space: about {needed_mb} MB needed, {free_mb} MB free. "
        "Nothing was changed.",
    ),
    "system.error.busy": (
        "Basis data sedang sibuk; tidak ada yang diubah. Coba lagi sebentar lagi.",
        "The database is busy; nothing was changed. Try again in a moment.",
    ),
    "system.restore.no_file": (
        "Kirim satu berkas cadangan dengan formulir pemulihan. Tidak ada yang diubah.",
        "Send one backup file with the restore form. Nothing was changed.",
    ),
    # logs
    "system.events": ("Log peristiwa", "Event log"),
    "system.event_kind": ("Jenis", "Kind"),
    "system.all_kinds": ("(semua)", "(all)"),
    "system.filter": ("Tampilkan", "Show"),
    "system.kind": ("Jenis", "Kind"),
    "system.events_shown": ("{count} peristiwa terbaru.", "The newest {count} events."),
    "system.journal": ("Jurnal sistem (siaga, siaga-web)", "System journal (siaga, siaga-web)"),
    "system.journal_empty": (
        "Jurnal tidak berisi baris untuk siaga atau siaga-web yang dapat dibaca antarmuka "
        "web. Di perangkat, pengguna siaga perlu grup systemd-journal untuk membacanya.",
        "The journal holds no lines of siaga or siaga-web that the web UI may read. On the "
        "box, the siaga user needs the systemd-journal group to read it.",
    ),
    "system.journal_missing": (
        "journalctl tidak ada di mesin ini (bukan perangkat dengan systemd): tidak ada jurnal "
        "untuk ditampilkan. Log peristiwa di atas tetap lengkap.",
        "journalctl is not on this machine (not a box with systemd): there is no journal to "
        "show. The event log above is complete all the same.",
    ),
    "system.journal_failed": (
        "journalctl gagal; jurnal tidak dapat ditampilkan.",
        "journalctl failed; the journal cannot be shown.",
    ),
    "system.journal_timeout": (
        "journalctl tidak menjawab dalam 2 detik; jurnal tidak ditampilkan.",
        "journalctl did not answer within 2 seconds; the journal is not shown.",
    ),
    # audit
    "action.system.backup": ("Cadangan diunduh", "Backup downloaded"),
    "action.system.restore": ("Basis data dipulihkan dari cadangan", "Database restored"),
}
