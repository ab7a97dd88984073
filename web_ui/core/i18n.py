"""Every word the web UI shows, in Bahasa Indonesia and English, and times in the site's zone.

A plain dict rather than gettext/.po files: two languages and a few hundred strings fit
one reviewable file, need no compile step, and a test checks that every key the
templates and the code use exists here in both languages. Bahasa Indonesia is the
default: a user picks English on their profile page; before login the `siaga_lang`
cookie (set by the links on the login page) decides.

Messages are plain text. Values put into them (`{name}`) are inserted before the
template escapes the whole string, so a user name holding markup is shown, never run.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from web_ui.auth.passwords import MIN_PASSWORD_CHARS
from web_ui.messages import (
    callbacks,
    dashboard,
    lines,
    report_categories,
    screening,
    security,
    service_watch,
    site_callbacks,
    system,
    wording,
)
from web_ui.users.service import Language

DEFAULT_LANGUAGE: Language = "id"
LANGUAGE_COOKIE = "siaga_lang"

# key: (Bahasa Indonesia, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "lang.id": ("Bahasa Indonesia", "Bahasa Indonesia"),
    "lang.en": ("English", "English"),
    "nav.label": ("Navigasi utama", "Main navigation"),
    "nav.skip": ("Lewati ke isi", "Skip to content"),
    "nav.home": ("Dasbor", "Dashboard"),
    "nav.settings": ("Pengaturan penyaringan", "Screening settings"),
    "nav.lines": ("Saluran", "Lines"),
    "nav.system": ("Sistem", "System"),
    "nav.console": ("Konsol", "Console"),
    "nav.users": ("Pengguna", "Users"),
    "nav.calls": ("Log panggilan", "Call log"),
    "nav.reports": ("Laporan", "Reports"),
    "nav.audit": ("Log audit", "Audit log"),
    "nav.profile": ("Profil", "Profile"),
    "nav.api": ("API", "API"),
    "nav.logout": ("Keluar", "Log out"),
    "nav.signed_in_as": ("Masuk sebagai {name} ({role})", "Signed in as {name} ({role})"),
    "nav.switch_to": ("Ganti bahasa ke {language}", "Switch language to {language}"),
    "footer.zone": ("Waktu ditampilkan dalam {zone}.", "Times are shown in {zone}."),
    "role.operator": ("Operator", "Operator"),
    "role.supervisor": ("Supervisor", "Supervisor"),
    "role.technician": ("Teknisi", "Technician"),
    # login, logout, setup
    "login.title": ("Masuk", "Log in"),
    "login.intro": (
        "Penyaringan panggilan 112. Hanya untuk petugas pusat panggilan.",
        "112 call screening. For call centre staff only.",
    ),
    "login.username": ("Nama pengguna", "User name"),
    "login.password": ("Kata sandi", "Password"),
    "login.submit": ("Masuk", "Log in"),
    "login.invalid": ("Nama pengguna atau kata sandi salah.", "Wrong user name or password."),
    "login.locked": (
        "Terlalu banyak percobaan yang gagal. Coba lagi setelah {time}.",
        "Too many failed attempts. Try again after {time}.",
    ),
    "login.logged_out": ("Anda telah keluar.", "You have logged out."),
    "login.setup_done": (
        "Akun teknisi pertama telah dibuat. Silakan masuk.",
        "The first technician account has been created. Please log in.",
    ),
    "login.no_users": (
        "Belum ada akun. Buat akun pertama dengan perintah `siaga user add`, atau buka "
        "tautan penyiapan sekali pakai yang ditulis layanan web ke terminalnya atau ke "
        "berkas `.setup-link` di samping basis data.",
        "There is no account yet. Create the first one with the `siaga user add` command, "
        "or open the one-time setup link the web service wrote to its terminal or to the "
        "`.setup-link` file next to the database.",
    ),
    "setup.title": ("Penyiapan awal", "First-time setup"),
    "setup.intro": (
        "Buat akun teknisi pertama. Halaman ini hanya ada selama belum ada akun.",
        "Create the first technician account. This page exists only while there is no account.",
    ),
    "setup.submit": ("Buat akun teknisi", "Create the technician account"),
    # fields
    "field.username": ("Nama pengguna", "User name"),
    "field.display_name": ("Nama tampilan", "Display name"),
    "field.password": ("Kata sandi", "Password"),
    "field.password_confirm": ("Ulangi kata sandi", "Repeat the password"),
    "field.role": ("Peran", "Role"),
    "field.language": ("Bahasa", "Language"),
    "field.status": ("Status", "Status"),
    "field.created": ("Dibuat", "Created"),
    "field.actions": ("Tindakan", "Actions"),
    "field.new_password": ("Kata sandi baru", "New password"),
    "field.current_password": ("Kata sandi saat ini", "Current password"),
    "help.username": (
        "2-32 huruf, angka, titik, garis bawah atau tanda hubung.",
        "2-32 letters, digits, dots, underscores or hyphens.",
    ),
    "help.password": (
        f"Minimal {MIN_PASSWORD_CHARS} karakter.",
        f"At least {MIN_PASSWORD_CHARS} characters.",
    ),
    # users
    "users.title": ("Pengguna", "Users"),
    "users.add": ("Tambah pengguna", "Add a user"),
    "users.add_submit": ("Tambah", "Add"),
    "users.active": ("Aktif", "Active"),
    "users.disabled": ("Nonaktif", "Disabled"),
    "users.disable": ("Nonaktifkan", "Disable"),
    "users.enable": ("Aktifkan", "Enable"),
    "users.change_role": ("Ubah peran", "Change role"),
    "users.reset_password": ("Atur ulang kata sandi", "Reset password"),
    "users.you": ("(Anda)", "(you)"),
    "users.list": ("Semua pengguna", "All users"),
    # audit
    "audit.title": ("Log audit", "Audit log"),
    "audit.intro": (
        "Setiap perubahan tercatat di sini. Catatan tidak dapat diubah atau dihapus.",
        "Every change is recorded here. Entries cannot be changed or deleted.",
    ),
    "audit.when": ("Waktu", "When"),
    "audit.who": ("Oleh", "Who"),
    "audit.anonymous": ("(tanpa akun)", "(no account)"),  # a failed login's actor
    "audit.what": ("Tindakan", "What"),
    "audit.target": ("Sasaran", "Target"),
    "audit.before": ("Sebelum", "Before"),
    "audit.after": ("Sesudah", "After"),
    "audit.from": ("Dari", "From"),
    "audit.older": ("Lebih lama", "Older"),
    "audit.newest": ("Terbaru", "Newest"),
    "audit.empty": ("Belum ada catatan.", "No entries yet."),
    "action.user.create": ("Pengguna dibuat", "User created"),
    "action.user.update": ("Pengguna diubah", "User changed"),
    "action.user.password_reset": ("Kata sandi diatur ulang", "Password reset"),
    "action.user.password_change": ("Kata sandi diganti", "Password changed"),
    "action.user.language": ("Bahasa diganti", "Language changed"),
    "action.auth.login": ("Masuk", "Logged in"),
    "action.auth.logout": ("Keluar", "Logged out"),
    "action.auth.locked": ("Akun dikunci", "Account locked"),
    # profile
    "profile.title": ("Profil", "Profile"),
    "profile.language": ("Bahasa tampilan", "Display language"),
    "profile.save": ("Simpan", "Save"),
    "profile.password": ("Ganti kata sandi", "Change password"),
    "profile.password_submit": ("Ganti kata sandi", "Change password"),
    "profile.session": (
        "Sesi ini berakhir paling lambat {time}.",
        "This session ends at the latest at {time}.",
    ),
    # confirmations
    "done.user_added": ("Pengguna ditambahkan.", "User added."),
    "done.user_updated": ("Pengguna diperbarui.", "User updated."),
    "done.password_reset": (
        "Kata sandi diatur ulang; sesi pengguna itu diakhiri.",
        "Password reset; that user's sessions were ended.",
    ),
    "done.password_changed": (
        "Kata sandi Anda diganti; sesi Anda yang lain diakhiri.",
        "Your password was changed; your other sessions were ended.",
    ),
    "done.language": ("Bahasa diganti.", "Language changed."),
    # operator console (the page's script gets every key under these prefixes)
    "console.title": ("Konsol operator", "Operator console"),
    "console.connecting": ("Menghubungkan...", "Connecting..."),
    "console.chime_on": ("Bunyi: nyala", "Chime: on"),
    "console.chime_off": ("Bunyi: mati", "Chime: off"),
    "console.chime_help": (
        "Berbunyi setiap beberapa detik selama ada panggilan menunggu petugas.",
        "Chimes every few seconds while a call waits for an operator.",
    ),
    "console.live": ("Langsung", "Live"),
    "console.reconnecting": (
        "Koneksi ke server terputus; menyambung ulang...",
        "The connection to the server was lost; reconnecting...",
    ),
    "console.needs_js": (
        "Konsol memerlukan JavaScript untuk pembaruan langsung.",
        "The console needs JavaScript for live updates.",
    ),
    "console.no_lines": (
        "Belum ada saluran yang melapor. Apakah layanan saluran berjalan?",
        "No line has reported yet. Is the line service running?",
    ),
    "console.keys": ("Tombol pintas", "Keyboard shortcuts"),
    "console.keys_answer": (
        "angkat panggilan yang paling lama menunggu",
        "answer the call waiting longest",
    ),
    "console.keys_hang_up": ("tutup panggilan", "hang up"),
    "console.keys_click_only": (
        "Tanpa tombol pintas (klik tombolnya): {kinds}.",
        "No keyboard shortcut (click the button): {kinds}.",
    ),
    "console.keys_target": (
        "Penilaian dan tutup berlaku untuk saluran yang Anda angkat terakhir, atau yang Anda klik.",
        "Dispositions and hang-up apply to the line you answered last, or the one you click.",
    ),
    "console.for": ("selama {duration}", "for {duration}"),
    "console.line": ("Saluran {line}", "Line {line}"),
    "console.number": ("Nomor", "Number"),
    "console.as_given": ("seperti diterima: {raw}", "as given: {raw}"),
    "console.no_number": ("(tanpa nomor)", "(no number)"),
    "console.decision": ("Keputusan", "Decision"),
    "console.waiting": (
        "Menunggu operator selama {duration}",
        "Waiting for an operator for {duration}",
    ),
    "console.history": ("Riwayat penelepon", "Caller history"),
    "console.earlier_calls": ("Panggilan sebelumnya", "Earlier calls"),
    "console.calls_24h": ("24 jam terakhir", "Last 24 hours"),
    "console.calls_30d": ("30 hari terakhir", "Last 30 days"),
    "console.past_dispositions": ("Penilaian sebelumnya", "Past dispositions"),
    "console.none": ("Tidak ada", "None"),
    "console.restrictions": ("Pembatasan saat ini", "Current restrictions"),
    "console.rule_until": (
        "{kind} ({action}) sampai {time}: {reason}",
        "{kind} ({action}) until {time}: {reason}",
    ),
    "console.rule_forever": (
        "{kind} ({action}) permanen: {reason}",
        "{kind} ({action}), permanent: {reason}",
    ),
    "console.this_call": ("Panggilan ini: {decision}", "This call: {decision}"),
    "console.challenge": ("Tantangan", "Challenge"),
    "console.voice": ("Suara terdengar", "Voice heard"),
    "console.yes": ("ya", "yes"),
    "console.no": ("tidak", "no"),
    "console.not_listened": ("tidak didengarkan", "not listened"),
    "console.unverified": (
        "Belum terverifikasi: penelepon tidak menekan tombol",
        "Unverified: the caller never pressed the key",
    ),
    "console.no_history": (
        "Riwayat tidak tersedia: nomor disembunyikan atau tidak ada.",
        "History not available: the number is withheld or missing.",
    ),
    "console.answer": ("Angkat", "Answer"),
    "console.hang_up": ("Tutup", "Hang up"),
    "console.block_24h": ("Blokir 24 jam", "Block 24 h"),
    "console.block_7d": ("Blokir 7 hari", "Block 7 d"),
    "console.genuine": ("Panggilan asli", "Genuine call"),
    "console.other_kinds": ("Lainnya", "Other"),
    "console.ended_call": (
        "Panggilan terakhir ({number}) berakhir {time}. Catat penilaiannya:",
        "The last call ({number}) ended at {time}. Record its disposition:",
    ),
    "console.recorded": ("Tercatat: {disposition}", "Recorded: {disposition}"),
    "console.operator": ("Operator", "Operator"),
    "console.pick_line": (
        "Pilih saluran dulu: klik kartu salurannya.",
        "Pick a line first: click its card.",
    ),
    "console.nothing_waiting": ("Tidak ada panggilan yang menunggu.", "No call is waiting."),
    "console.blocked": (
        "{number} diblokir (tantangan) sampai {time}.",
        "{number} is blocked (challenge) until {time}.",
    ),
    "console.block_exists": (
        "{number} sudah diblokir sampai {time}.",
        "{number} is already blocked until {time}.",
    ),
    "console.last_error": ("Kesalahan terakhir: {error}", "Last error: {error}"),
    "console.selected": ("Saluran terpilih", "Selected line"),
    "request.answer": ("Angkat", "Answer"),
    "request.hang_up": ("Tutup", "Hang up"),
    "request.disposition": ("Penilaian", "Disposition"),
    "request.pending": (
        "{what}: terkirim, menunggu layanan saluran...",
        "{what}: sent, waiting for the line service...",
    ),
    "request.not_answering": (
        "Layanan saluran tidak menjawab: angkat panggilan di telepon meja.",
        "The line service is not answering: take the call on the desk phone.",
    ),
    "request.saved_for_later": (
        "{what}: tersimpan; layanan saluran akan menerapkannya saat berjalan lagi.",
        "{what}: saved; the line service will apply it when it runs again.",
    ),
    "result.ok": ("{what}: selesai.", "{what}: done."),
    "result.no_such_call": ("{what}: panggilan sudah tidak ada.", "{what}: the call is gone."),
    "result.expired": (
        "{what}: kedaluwarsa (layanan saluran terlambat).",
        "{what}: expired (the line service was too late).",
    ),
    "result.invalid": ("{what}: ditolak layanan saluran.", "{what}: refused by the line service."),
    "state.down": ("Mati", "Down"),
    "state.initialising": ("Memulai", "Starting"),
    "state.idle": ("Siap", "Idle"),
    "state.ringing": ("Berdering", "Ringing"),
    "state.screening": ("Menyaring", "Screening"),
    "state.rejecting": ("Menolak", "Rejecting"),
    "state.announcing": ("Memutar pesan", "Announcing"),
    "state.challenging": ("Tantangan berlangsung", "Challenge in progress"),
    "state.holding": ("Ditahan", "Holding"),
    "state.operator_ringing": ("Menunggu operator", "Waiting for an operator"),
    "state.connected": ("Tersambung", "Connected"),
    "state.failed": ("Gagal", "Failed"),
    # A line that answers but cannot do everything (line_status.degraded).
    "state.degraded": ("Terganggu: {what}", "Degraded: {what}"),
    "state.degraded.no_caller_id": ("tanpa ID penelepon", "no caller ID"),
    "state.degraded.no_key_detection": ("tombol tidak terdeteksi", "keys not detected"),
    "state.degraded.no_voice_port": ("tanpa port suara", "no voice port"),
    "state.degraded.no_fail_over": (
        "pengalihan cadangan tidak terdaftar",
        "backup forwarding not registered",
    ),
    "decision.pass": ("lolos", "pass"),
    "decision.challenge": ("tantangan", "challenge"),
    "decision.announce": ("pesan", "announce"),
    "decision.reject": ("tolak", "reject"),
    "reason.allowlist": ("daftar izin", "allowlist"),
    "reason.blocklist": ("daftar blokir", "blocklist"),
    "reason.throttle": ("panggilan berulang", "repeat calls"),
    "reason.abuse": ("riwayat iseng", "abuse ladder"),
    "reason.withheld": ("nomor disembunyikan", "withheld number"),
    "reason.unavailable": ("nomor tidak tersedia", "number unavailable"),
    "reason.unparseable": ("nomor tidak sah", "unparseable number"),
    "reason.flood": ("mode banjir panggilan", "flood mode"),
    "reason.immune": ("panggilan asli baru-baru ini", "recent genuine call"),
    "reason.no_history": ("tanpa riwayat baik", "no good history"),
    "reason.default": ("bawaan", "default"),
    "reason.fail_open": ("kesalahan sistem", "system error"),
    "number_class.number": ("Nomor", "Number"),
    "number_class.withheld": ("Nomor disembunyikan", "Withheld number"),
    "number_class.unavailable": ("Nomor tidak tersedia", "Number unavailable"),
    "number_class.unparseable": ("Nomor tidak sah", "Unparseable number"),
    "challenge.passed": ("lulus", "passed"),
    "challenge.failed": ("gagal", "failed"),
    "challenge.timeout": ("tidak menekan tombol", "no key pressed"),
    "challenge.caller_hung_up": ("penelepon menutup", "caller hung up"),
    "challenge.none": ("tidak ditantang", "not challenged"),
    "end_cause.announced": ("pesan diputar, lalu ditutup", "message played, then released"),
    "end_cause.caller_hung_up": ("penelepon menutup", "caller hung up"),
    "end_cause.challenge_passed": ("tantangan lulus", "challenge passed"),
    "end_cause.challenge_failed": ("tantangan gagal", "challenge failed"),
    "end_cause.challenge_timeout": ("tidak menekan tombol", "no key pressed"),
    "end_cause.challenge_caller_hung_up": (
        "penelepon menutup saat tantangan",
        "caller hung up during the challenge",
    ),
    "end_cause.deflected": ("dialihkan", "deflected"),
    "end_cause.error": ("kesalahan internal", "internal error"),
    "end_cause.line_failed": ("saluran gagal", "line failed"),
    "end_cause.modem_rebooted": ("modem memulai ulang", "modem rebooted"),
    "end_cause.modem_reset": (
        "modem hilang panggilan (mulai ulang diam-diam)",
        "the modem lost the call (a silent reset)",
    ),
    "end_cause.modem_not_answering": ("modem tidak menjawab", "the modem stopped answering"),
    "end_cause.flood_released": (
        "dilepas saat tantangan: bagian dari banjir panggilan",
        "released in the challenge: part of a call flood",
    ),
    "end_cause.watchdog_ringing": ("batas waktu: berdering", "time limit: ringing"),
    "end_cause.watchdog_screening": ("batas waktu: menyaring", "time limit: screening"),
    "end_cause.watchdog_rejecting": ("batas waktu: menolak", "time limit: rejecting"),
    "end_cause.watchdog_announcing": ("batas waktu: memutar pesan", "time limit: announcing"),
    "end_cause.watchdog_challenging": ("batas waktu: tantangan", "time limit: challenge"),
    "end_cause.watchdog_holding": ("batas waktu: ditahan", "time limit: holding"),
    "end_cause.watchdog_operator_ringing": (
        "batas waktu: menunggu operator",
        "time limit: waiting for an operator",
    ),
    "end_cause.watchdog_connected": ("batas waktu: tersambung", "time limit: connected"),
    "end_cause.operator_hung_up": ("operator menutup", "operator hung up"),
    "end_cause.rejected": ("ditolak sebelum dijawab", "rejected before answering"),
    "end_cause.interrupted": (
        "terputus: layanan berhenti saat panggilan",
        "interrupted: the service stopped during the call",
    ),
    "rule_kind.block": ("Blokir", "Block"),
    "rule_kind.allow": ("Izin", "Allow"),
    "disposition.genuine.electrical": ("Korsleting listrik", "Electrical short"),
    "disposition.genuine.accident": ("Kecelakaan", "Accident"),
    "disposition.genuine.fire": ("Kebakaran", "Fire"),
    "disposition.genuine.ambulance": ("Ambulans", "Ambulance"),
    "disposition.genuine.fallen_tree": ("Pohon tumbang", "Fallen tree"),
    "disposition.genuine.flood_disaster": ("Banjir / bencana", "Flood / disaster"),
    "disposition.genuine.health": ("Kesehatan", "Health"),
    "disposition.genuine.crime": ("Kriminal", "Crime"),
    "disposition.genuine.other": ("Darurat lain", "Other emergency"),
    "disposition.info": ("Informasi", "Information"),
    "disposition.prank": ("Iseng", "Prank"),
    "disposition.ghost": ("Hantu", "Ghost"),
    "disposition.wrong_number": ("Salah sambung", "Wrong number"),
    "action.console.answer": ("Panggilan diangkat (konsol)", "Call answered (console)"),
    "action.console.hang_up": ("Panggilan ditutup (konsol)", "Call hung up (console)"),
    "action.console.disposition": ("Penilaian dicatat (konsol)", "Disposition recorded (console)"),
    "action.console.block": ("Nomor diblokir (konsol)", "Number blocked (console)"),
    # errors
    "error.title": ("Kesalahan", "Error"),
    "error.back": ("Kembali ke beranda", "Back to the home page"),
    "error.forbidden": (
        "Anda tidak memiliki akses ke halaman atau tindakan ini.",
        "You do not have access to this page or action.",
    ),
    "error.csrf": (
        "Formulir kedaluwarsa atau tidak sah. Muat ulang halaman dan coba lagi.",
        "The form has expired or is not valid. Reload the page and try again.",
    ),
    "error.not_found": ("Halaman tidak ditemukan.", "Page not found."),
    "error.setup_done": ("Halaman tidak ditemukan.", "Page not found."),
    "error.setup_token": ("Tautan penyiapan tidak sah.", "The setup link is not valid."),
    "error.invalid_input": ("Isian tidak sah.", "The input is not valid."),
    "error.username_invalid": (
        "Nama pengguna harus 2-32 huruf, angka, titik, garis bawah atau tanda hubung.",
        "A user name is 2-32 letters, digits, dots, underscores or hyphens.",
    ),
    "error.username_taken": ("Nama pengguna itu sudah dipakai.", "That user name is taken."),
    "error.display_name_invalid": (
        "Nama tampilan berisi karakter yang tidak diizinkan.",
        "The display name holds characters that are not allowed.",
    ),
    "error.display_name_long": (
        "Nama tampilan terlalu panjang (paling banyak 80 karakter).",
        "The display name is too long (80 characters at most).",
    ),
    "error.language_invalid": ("Bahasa tidak dikenal.", "Unknown language."),
    "error.role_invalid": ("Peran tidak dikenal.", "Unknown role."),
    "error.user_not_found": ("Pengguna tidak ditemukan.", "User not found."),
    "error.last_technician": (
        "Teknisi aktif terakhir tidak dapat dinonaktifkan atau diberi peran lain.",
        "The last active technician cannot be disabled or given another role.",
    ),
    "error.password_short": (
        f"Kata sandi minimal {MIN_PASSWORD_CHARS} karakter.",
        f"A password has at least {MIN_PASSWORD_CHARS} characters.",
    ),
    "error.password_long": ("Kata sandi terlalu panjang.", "The password is too long."),
    "error.password_is_username": (
        "Kata sandi tidak boleh sama dengan nama pengguna.",
        "The password cannot be the user name.",
    ),
    "error.password_mismatch": ("Kedua kata sandi tidak sama.", "The two passwords differ."),
    "error.current_password": ("Kata sandi saat ini salah.", "The current password is wrong."),
    "error.unknown_line": ("Saluran itu tidak dikenal.", "Unknown line."),
    "error.call_not_waiting": (
        "Panggilan itu sudah tidak menunggu (penelepon menutup atau operator lain mengangkat).",
        "That call is no longer waiting (the caller hung up or another operator answered).",
    ),
    "error.call_not_connected": (
        "Panggilan itu tidak sedang tersambung.",
        "That call is not connected.",
    ),
    "error.call_not_recordable": (
        "Penilaian hanya untuk panggilan yang diangkat operator di saluran ini, paling lama "
        "10 menit setelah berakhir.",
        "A disposition is only for a call an operator took on this line, at most 10 minutes "
        "after it ended.",
    ),
    "error.call_not_on_line": (
        "Panggilan itu tidak ada di saluran ini.",
        "That call is not on this line.",
    ),
    "error.bad_disposition": ("Penilaian tidak dikenal.", "Unknown disposition."),
    "error.bad_duration": ("Lama blokir tidak dikenal.", "Unknown block duration."),
    "error.no_number": (
        "Nomor yang disembunyikan, tidak tersedia atau tidak sah tidak dapat diblokir.",
        "A withheld, unavailable or unparseable number cannot be blocked.",
    ),
    "error.network": (
        "Server tidak dapat dihubungi. Coba lagi.",
        "The server cannot be reached. Try again.",
    ),
    "error.locked": (
        "Terlalu banyak percobaan yang gagal. Coba lagi nanti.",
        "Too many failed attempts. Try again later.",
    ),
    "error.bad_date": (
        "Tanggal tidak sah: tulis TTTT-BB-HH, misalnya 2024-04-03.",
        "Not a valid date: write YYYY-MM-DD, e.g. 2024-04-03.",
    ),
    "error.unknown_site": (
        "Tidak ada panggilan dari lokasi itu di basis data ini.",
        "This database holds no calls of that site.",
    ),
    "error.bad_range": (
        "Tanggal akhir lebih awal dari tanggal mulai.",
        "The end date is before the start date.",
    ),
    "error.range_too_long": (
        "Laporan harian paling panjang satu tahun; pilih per bulan untuk rentang lebih panjang.",
        "A daily report covers at most a year; choose by month for a longer range.",
    ),
    "error.bad_cursor": ("Tautan halaman tidak sah.", "Not a valid page link."),
    "error.bad_number_prefix": (
        "Awalan nomor tidak sah: tulis misalnya 0812 atau +62812.",
        "Not a valid number prefix: write e.g. 0812 or +62812.",
    ),
    # the call log
    "calls.title": ("Log panggilan", "Call log"),
    "calls.since": ("Dari tanggal", "From"),
    "calls.until": ("Sampai tanggal", "Until"),
    "calls.number": ("Nomor", "Number"),
    "calls.number_help": (
        # the examples kept whole on a line (non-breaking hyphens and spaces)
        "Bentuk apa pun: 0812\u20113456\u20117890, 6281234567890, "
        "+62\u00a0812\u00a03456\u00a07890.",
        "Any form: 0812\u20113456\u20117890, 6281234567890, +62\u00a0812\u00a03456\u00a07890.",
    ),
    "calls.number_prefix": (
        "Cari semua nomor yang diawali ini",
        "Find every number starting with this",
    ),
    "calls.matching_exact": ("Mencari nomor {value}.", "Searching for the number {value}."),
    "calls.matching_prefix": (
        "Mencari semua nomor yang diawali {value}.",
        "Searching for every number starting with {value}.",
    ),
    "calls.matching_raw": (
        "Bukan nomor telepon: mencari teks ID penelepon \u201c{value}\u201d persis.",
        "Not a phone number: searching for the caller ID text \u201c{value}\u201d exactly.",
    ),
    "calls.decision": ("Keputusan", "Decision"),
    "calls.reason": ("Alasan", "Reason"),
    "calls.disposition": ("Penilaian", "Disposition"),
    "calls.line": ("Saluran", "Line"),
    "calls.any": ("Semua", "Any"),
    "calls.genuine_any": ("Asli (semua jenis)", "Genuine (any kind)"),
    "calls.no_disposition": ("Belum dinilai", "No disposition"),
    "calls.search": ("Cari", "Search"),
    "calls.clear": ("Hapus saringan", "Clear filters"),
    "calls.csv": ("Unduh CSV (semua hasil)", "Download CSV (every match)"),
    "calls.csv_excel": (
        "Unduh CSV untuk Excel (titik koma)",
        "Download CSV for Excel (semicolons)",
    ),
    # The headings of the call log's export for Excel (`/calls.csv?dialect=excel`).
    "calls.csv.id": ("Nomor urut", "Id"),
    "calls.csv.started_at": ("Mulai", "Started"),
    "calls.csv.line": ("Saluran", "Line"),
    "calls.csv.caller_raw": ("Nomor seperti diterima", "Number as given"),
    "calls.csv.caller": ("Nomor baku", "Normalised number"),
    "calls.csv.number_class": ("Jenis nomor", "Number class"),
    "calls.csv.decision": ("Keputusan", "Decision"),
    "calls.csv.reason": ("Alasan", "Reason"),
    "calls.csv.challenge_result": ("Hasil tantangan", "Challenge result"),
    "calls.csv.voice_heard": ("Suara terdengar", "Voice heard"),
    "calls.csv.reached_operator": ("Sampai operator", "Reached operator"),
    "calls.csv.operator": ("Operator", "Operator"),
    "calls.csv.disposition": ("Penilaian", "Disposition"),
    "calls.csv.end_cause": ("Sebab berakhir", "End cause"),
    "calls.csv.ended_at": ("Berakhir", "Ended"),
    "calls.csv.time_trusted": ("Jam pasti", "Clock trusted"),
    "calls.newest_first": ("Terbaru di atas.", "Newest first."),
    "calls.empty": ("Tidak ada panggilan yang cocok.", "No calls match."),
    "calls.newest": ("Terbaru", "Newest"),
    "calls.newer": ("\u2190 Lebih baru", "\u2190 Newer"),
    "calls.older": ("Lebih lama \u2192", "Older \u2192"),
    "calls.col.time": ("Waktu", "Time"),
    "calls.col.line": ("Saluran", "Line"),
    "calls.col.number": ("Nomor (diterima / baku)", "Number (as given / normalised)"),
    "calls.col.decision": ("Keputusan / alasan", "Decision / reason"),
    "calls.col.challenge": ("Tantangan", "Challenge"),
    "calls.col.voice": ("Suara terdengar", "Voice heard"),
    "calls.col.operator": ("Sampai operator", "Reached operator"),
    "calls.col.disposition": ("Penilaian", "Disposition"),
    "calls.col.end_cause": ("Sebab berakhir", "End cause"),
    "calls.no_caller_id": ("(tanpa ID penelepon)", "(no caller ID)"),
    "calls.withheld": ("(nomor disembunyikan)", "(withheld number)"),
    "calls.yes": ("ya", "yes"),
    "calls.no": ("tidak", "no"),
    "calls.untrusted": ("jam tidak pasti", "clock unsure"),
    "calls.untrusted_help": (
        "Jam perangkat belum tersinkron saat panggilan ini; waktunya mungkin salah.",
        "The box's clock was not synchronised during this call; its time may be wrong.",
    ),
    # reports
    "reports.title": ("Laporan", "Reports"),
    "reports.month": ("Bulan", "Month"),
    "reports.month_help": (
        "Pilih bulan untuk laporan harian bulan itu, atau isi rentang tanggal.",
        "Pick a month for that month by day, or give a date range.",
    ),
    "reports.rows": ("Baris per", "Rows per"),
    "reports.by_day": ("hari", "day"),
    "reports.by_month": ("bulan", "month"),
    "reports.show": ("Tampilkan", "Show"),
    "reports.site": ("Lokasi", "Site"),
    "reports.every_site": ("Semua lokasi", "Every site"),
    "reports.csv": ("Unduh CSV", "Download CSV"),
    "reports.print": ("Versi cetak", "Printable view"),
    "reports.print_title_day": ("Laporan panggilan harian", "Daily call report"),
    "reports.print_title_month": ("Laporan panggilan bulanan", "Monthly call report"),
    "reports.period_text": ("Periode {since} s.d. {until}", "Period {since} to {until}"),
    "reports.generated": ("Dibuat {time}", "Generated {time}"),
    "reports.summary": ("Ringkasan {since} s.d. {until}", "Summary {since} to {until}"),
    "reports.junk_share": ("Porsi iseng + hantu", "Prank + ghost share"),
    "reports.charts": ("Grafik", "Charts"),
    "reports.chart_calls_day": ("Panggilan per hari", "Calls per day"),
    "reports.chart_calls_month": ("Panggilan per bulan", "Calls per month"),
    "reports.chart_calls_desc": (
        "Diagram batang bertumpuk, {n} batang: asli, iseng, hantu dan lainnya per periode.",
        "Stacked bar chart, {n} bars: genuine, prank, ghost and other calls per period.",
    ),
    "reports.chart_junk_day": ("Porsi iseng + hantu per hari", "Prank + ghost share per day"),
    "reports.chart_junk_month": (
        "Porsi iseng + hantu per bulan",
        "Prank + ghost share per month",
    ),
    "reports.chart_junk_desc": (
        "Diagram batang, {n} batang: persentase panggilan iseng dan hantu per periode.",
        "Bar chart, {n} bars: prank and ghost calls as a percentage of calls per period.",
    ),
    "reports.chart_alt": (
        "Angka yang sama ada di tabel di bawah.",
        "The same figures are in the table below.",
    ),
    "reports.series.valid": ("Asli", "Genuine"),
    "reports.series.prank": ("Iseng", "Prank"),
    "reports.series.ghost": ("Hantu", "Ghost"),
    "reports.series.other": ("Lainnya", "Other"),
    "reports.series.junk": ("Iseng + hantu", "Prank + ghost"),
    "reports.calls_day": ("Panggilan per hari", "Calls per day"),
    "reports.calls_month": ("Panggilan per bulan", "Calls per month"),
    "reports.empty": ("Tidak ada panggilan pada periode ini.", "No calls in this period."),
    "reports.total": ("Jumlah", "Total"),
    "reports.col.period": ("Periode", "Period"),
    "reports.col.calls": ("Total", "Total"),
    "reports.col.valid": ("Asli", "Genuine"),
    "reports.col.info": ("Informasi", "Information"),
    "reports.col.prank": ("Iseng", "Prank"),
    "reports.col.ghost": ("Hantu", "Ghost"),
    "reports.col.wrong_number": ("Salah sambung", "Wrong number"),
    "reports.col.no_disposition": ("Belum dinilai", "No disposition"),
    "reports.col.reached_operator": ("Sampai operator", "Reached operator"),
    "reports.col.screened": ("Disaring", "Screened"),
    "reports.screened_by_reason": ("Disaring menurut alasan", "Screened by reason"),
    "reports.challenge": ("Hasil tantangan", "Challenge result"),
    "reports.other": ("lainnya", "other"),
    "reports.none_screened": ("Tidak ada panggilan yang disaring.", "No call was screened."),
    "reports.line_time": ("Waktu saluran (jam:menit)", "Line time (h:mm)"),
    "reports.line_time_help": (
        "Waktu saluran terpakai menurut penilaian panggilan.",
        "Time the lines were busy, by the call's disposition.",
    ),
    "reports.top_repeaters": (
        "Nomor yang paling sering menelepon",
        "Most frequent caller numbers",
    ),
    "reports.no_repeaters": ("Tidak ada nomor pada periode ini.", "No numbers in this period."),
    "reports.first": ("Pertama", "First"),
    "reports.back": ("Kembali ke laporan", "Back to the report"),
    "reports.print_hint": (
        "Cetak dengan menu Cetak peramban (Ctrl+P), kertas A4.",
        "Print with the browser's Print menu (Ctrl+P), A4 paper.",
    ),
    "reports.last": ("Terakhir", "Last"),
    "nav.rules": ("Aturan", "Rules"),
    "done.rule_added": ("Aturan ditambahkan.", "Rule added."),
    "done.rule_removed": ("Aturan dihapus.", "Rule removed."),
    "done.rules_imported": ("Aturan diimpor.", "Rules imported."),
    "error.rule_duplicate": (
        "Aturan yang sama (jenis, cocok, nomor, tindakan) sudah berlaku; lihat daftar di bawah.",
        "The same rule (kind, match, number, action) is already in force; see the list below.",
    ),
    "error.rule_not_found": (
        "Aturan tidak ditemukan atau sudah dihapus.",
        "Rule not found or already removed.",
    ),
    "error.import_too_large": (
        "Berkas terlalu besar (paling banyak 256 KB).",
        "The file is too large (at most 256 KB).",
    ),
    "action.rules.add": ("Aturan ditambahkan", "Rule added"),
    "action.rules.remove": ("Aturan dihapus", "Rule removed"),
    "action.rules.import": ("Aturan diimpor (CSV)", "Rule imported (CSV)"),
    "rules.title": ("Aturan izin dan blokir", "Allow and block rules"),
    "rules.allow": ("Izin", "Allow"),
    "rules.block": ("Blokir", "Block"),
    "rules.none": ("Tidak ada aturan yang berlaku.", "No rules in force."),
    "rules.add": ("Tambah aturan", "Add a rule"),
    "rules.add_submit": ("Tambah", "Add"),
    "rules.kind": ("Jenis", "Kind"),
    "rules.number": ("Nomor", "Number"),
    "rules.number_help": (
        "Nomor dalam bentuk apa pun (0812\u20113456\u20117890, +62\u00a0812...); untuk awalan "
        "pilih awalan.",
        "A number in any form (0812\u20113456\u20117890, +62\u00a0812...); for a prefix "
        "choose prefix.",
    ),
    "rules.match": ("Cocok", "Match"),
    "rules.match.exact": ("persis", "exact"),
    "rules.match.prefix": ("awalan", "prefix"),
    "rules.action": ("Tindakan", "Action"),
    "rules.action_default": ("(bawaan)", "(default)"),
    "rules.reason": ("Alasan", "Reason"),
    "rules.expires": ("Kedaluwarsa", "Expires"),
    "rules.expires_example": ("7 hari", "7d"),
    "rules.expires_help": (
        "TTTT-BB-HH (berlaku sampai akhir hari itu, WIB), 24 jam, 7 hari, atau kosong "
        "(tidak pernah).",
        "YYYY-MM-DD (in force through that day, WIB), 24h, 7d, or empty (never).",
    ),
    "rules.never": ("tidak pernah", "never"),
    "rules.who": ("Oleh", "By"),
    "rules.when": ("Dibuat", "Created"),
    "rules.remove": ("Hapus", "Remove"),
    "rules.csv": ("Unduh CSV (koma, untuk program)", "Download CSV (commas, for programs)"),
    "rules.csv_excel": (
        "Unduh CSV untuk Excel (titik koma)",
        "Download CSV for Excel (semicolons)",
    ),
    "rules.import": ("Impor CSV", "Import CSV"),
    "rules.import_help": (
        "Kolom: Jenis;Nomor;Cocok;Tindakan;Alasan;Kedaluwarsa (atau dengan nama program "
        "\u201ckind,number,match,action,reason,expires\u201d); dipisah koma atau titik koma, "
        "seperti Excel menyimpannya. Pratinjau dulu; belum ada yang disimpan.",
        "Columns: Kind;Number;Match;Action;Reason;Expires (or with the program names "
        "\u201ckind,number,match,action,reason,expires\u201d); separated by commas or "
        "semicolons, as Excel saves them. You see a preview first; nothing is stored yet.",
    ),
    "rules.import_file": ("Berkas CSV", "CSV file"),
    "rules.import_preview": ("Pratinjau", "Preview"),
    "rules.preview_title": ("Pratinjau impor", "Import preview"),
    "rules.preview_adds": ("Akan ditambahkan: {count} aturan.", "Would be added: {count} rules."),
    "rules.preview_errors": (
        "Baris yang salah (tidak diimpor): {count}.",
        "Bad rows (not imported): {count}.",
    ),
    "rules.preview_expired": (
        "Dilewati, sudah kedaluwarsa: {count} aturan (baris {rows}).",
        "Skipped, already expired: {count} rules (rows {rows}).",
    ),
    "rules.preview_changed": (
        "Isi impor berubah sejak pratinjau; periksa lagi.",
        "The import changed since the preview; check it again.",
    ),
    "rules.row": ("Baris", "Row"),
    "rules.error": ("Kesalahan", "Error"),
    "rules.import_submit": ("Impor {count} aturan", "Import {count} rules"),
    "rules.import_nothing": ("Tidak ada aturan untuk diimpor.", "No rules to import."),
    "rules.cancel": ("Batal", "Cancel"),
    "rules.form.bad_number": (
        "\u201c{value}\u201d bukan nomor lengkap; untuk awalan pilih Cocok: awalan.",
        "\u201c{value}\u201d is not a whole number; for a prefix choose Match: prefix.",
    ),
    "rules_csv.header_missing": (
        "Baris pertama harus judul kolom ({columns}); tidak ada: {missing}.",
        "The first line must be the column header ({columns}); missing: {missing}.",
    ),
    "rules_csv.header_unknown": (
        "Kolom tidak dikenal atau ganda: {unknown}. Kolom yang dikenal: {columns}.",
        "Unknown or repeated columns: {unknown}. Known columns: {columns}.",
    ),
    "rules_csv.too_many_rows": (
        "Terlalu banyak baris (paling banyak {max}).",
        "Too many rows (at most {max}).",
    ),
    "rules_csv.bad_cells": (
        "Baris ini punya lebih dari {count} sel, atau sel yang terlalu panjang.",
        "This row has more than {count} cells, or a cell that is too long.",
    ),
    "rules_csv.bad_row": ("Baris ini tidak dapat dibaca.", "This row cannot be read."),
    "rules_csv.bad_kind": (
        "Jenis \u201c{value}\u201d tidak dikenal: tulis \u201cizin\u201d atau \u201cblokir\u201d.",
        "Unknown kind \u201c{value}\u201d: write \u201callow\u201d or \u201cblock\u201d.",
    ),
    "rules_csv.bad_match": (
        "Cocok \u201c{value}\u201d tidak dikenal: tulis \u201cpersis\u201d, "
        "\u201cawalan\u201d, atau kosongkan.",
        "Unknown match \u201c{value}\u201d: write \u201cexact\u201d, \u201cprefix\u201d, "
        "or leave it empty.",
    ),
    "rules_csv.number_missing": ("Nomor kosong.", "The number is empty."),
    "rules_csv.bad_number": (
        "\u201c{value}\u201d bukan nomor lengkap; untuk awalan tulis \u201cawalan\u201d "
        "di kolom Cocok.",
        "\u201c{value}\u201d is not a whole number; for a prefix write \u201cprefix\u201d "
        "in the Match column.",
    ),
    "rules_csv.bad_prefix": (
        "\u201c{value}\u201d bukan awalan nomor yang sah (contoh: 0812 atau +62812).",
        "\u201c{value}\u201d is not a valid number prefix (e.g. 0812 or +62812).",
    ),
    "rules_csv.bad_action_allow": (
        "Tindakan \u201c{value}\u201d tidak berlaku untuk izin: tulis \u201clolos\u201d "
        "atau kosongkan.",
        "Action \u201c{value}\u201d does not apply to allow: write \u201cpass\u201d or leave "
        "it empty.",
    ),
    "rules_csv.bad_action_block": (
        "Tindakan \u201c{value}\u201d tidak dikenal: tulis \u201ctantangan\u201d, "
        "\u201cpesan\u201d atau \u201ctolak\u201d.",
        "Unknown action \u201c{value}\u201d: write \u201cchallenge\u201d, "
        "\u201cannounce\u201d or \u201creject\u201d.",
    ),
    "rules_csv.reason_long": (
        "Alasan terlalu panjang (paling banyak {max} karakter).",
        "The reason is too long (at most {max} characters).",
    ),
    "rules_csv.bad_expires": (
        "Kedaluwarsa \u201c{value}\u201d tidak sah: tulis TTTT-BB-HH, 24 jam, 7 hari, atau "
        "kosongkan.",
        "Expiry \u201c{value}\u201d is not valid: write YYYY-MM-DD, 24h, 7d, or leave it empty.",
    ),
    "rules_csv.expires_past": (
        "Tanggal kedaluwarsa {value} sudah lewat.",
        "The expiry date {value} has passed.",
    ),
    "rules_csv.reason_required": (
        "Blokir tanpa kedaluwarsa memerlukan alasan.",
        "A block without expiry needs a reason.",
    ),
    "rules_csv.duplicate": (
        "Aturan yang sama sudah ada di baris {other}.",
        "The same rule is already on row {other}.",
    ),
    "rules_csv.duplicate_active": (
        "Duplikat: aturan yang sama sudah berlaku (id {id}); baris ini tidak diimpor.",
        "Duplicate: the same rule is already in force (id {id}); this row is not imported.",
    ),
}


def _merge_page_catalogues() -> None:
    for catalogue in (
        callbacks,
        dashboard,
        lines,
        report_categories,
        screening,
        security,
        service_watch,
        site_callbacks,
        system,
        wording,
    ):
        twice = sorted(set(catalogue.MESSAGES) & set(MESSAGES))
        if twice:
            raise RuntimeError(f"{catalogue.__name__}: keys defined twice: {twice}")
        MESSAGES.update(catalogue.MESSAGES)


_merge_page_catalogues()

_ID_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def translate(language: Language, key: str, /, **values: object) -> str:
    """The message `key` in `language`, with `{name}` fields filled from `values`.

    An unknown key raises `KeyError`: a test checks every key in use, so this can only
    happen for a new, untested key, and failing loudly beats showing an English word to
    an Indonesian user.
    """
    text = MESSAGES[key][0 if language == "id" else 1]
    return text.format(**values) if values else text


def has_message(key: str) -> bool:
    """True if the catalogue holds `key` (for values that may be new, e.g. audit actions)."""
    return key in MESSAGES


def language_or_default(value: str | None) -> Language:
    """A supported language from a cookie or query string, else Bahasa Indonesia."""
    return "en" if value == "en" else DEFAULT_LANGUAGE


def format_time(ts: float, zone: ZoneInfo, language: Language) -> str:
    """POSIX seconds as a local date and time with the zone's abbreviation.

    Bahasa Indonesia: `22 Nov 2026 19.56 WIB` (a dot between hours and minutes, as
    Indonesian writes times); English: `22 Nov 2026 19:56 WIB`.
    """
    moment = datetime.fromtimestamp(ts, zone)
    months = _ID_MONTHS if language == "id" else _EN_MONTHS
    separator = "." if language == "id" else ":"
    clock = f"{moment.hour:02d}{separator}{moment.minute:02d}{separator}{moment.second:02d}"
    return f"{moment.day} {months[moment.month - 1]} {moment.year} {clock} {moment.tzname()}"


class Translator:
    """`t("key", name=...)` in templates, bound to one language."""

    def __init__(self, language: Language) -> None:
        self.language = language

    def __call__(self, key: str, /, **values: object) -> str:
        """The message in this translator's language."""
        return translate(self.language, key, **values)

    def known(self, prefix: str, value: str) -> str:
        """The message `prefix + value`, or `value` itself when there is none (a state or
        kind newer than this catalogue is shown as it is, never a server error)."""
        key = prefix + value
        return translate(self.language, key) if key in MESSAGES else value
