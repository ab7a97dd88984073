"""The words of the screening page, in Bahasa Indonesia and English (see `web_ui.i18n`)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "settings.title": ("Pengaturan penyaringan", "Screening settings"),
    "settings.intro": (
        "Perubahan berlaku untuk panggilan berikutnya dalam beberapa detik, tanpa memulai "
        "ulang. Angka: koma untuk desimal (0,5). Lama waktu dalam detik, atau dengan satuan: "
        "10 menit, 2 jam, 7 hari.",
        "Changes apply to the next call within seconds, with no restart. Numbers: 0.5 or "
        "0,5. Durations in seconds, or with a unit: 10 min, 2 h, 7 d.",
    ),
    "settings.base": ("Nilai dasar", "Base values"),
    "settings.base.line_service": (
        "berkas konfigurasi yang dipakai layanan saluran saat mulai",
        "the configuration file the line service started on",
    ),
    "settings.base.defaults": (
        "Layanan saluran belum pernah berjalan pada basis data ini: nilai bawaan Siaga "
        "dipakai sebagai pengganti berkas konfigurasi.",
        "The line service has never run on this database: Siaga's built-in defaults stand "
        "in for the configuration file.",
    ),
    "settings.line_service": ("Layanan saluran", "Line service"),
    "settings.status.applied": (
        "pengaturan ini sudah berlaku",
        "these settings are in force",
    ),
    "settings.status.pending": (
        "belum menerapkan perubahan terakhir (diperiksa tiap detik; muat ulang halaman)",
        "has not applied the latest change yet (it checks every second; reload the page)",
    ),
    "settings.status.not_running": (
        "tidak berjalan; pengaturan ini berlaku saat ia mulai",
        "not running; these settings apply when it starts",
    ),
    "settings.status.never_ran": (
        "belum pernah berjalan pada basis data ini",
        "has never run on this database",
    ),
    "settings.last_change": ("Perubahan terakhir", "Last change"),
    "settings.last_change_by": ("oleh {name}, {time}", "by {name}, {time}"),
    "settings.stored_problems": (
        "Pengaturan yang tersimpan tidak cocok dengan berkas konfigurasi, sehingga layanan "
        "saluran tidak menerapkannya. Perbaiki atau kembalikan nilai berikut:",
        "The stored settings do not fit the configuration file, so the line service does not "
        "apply them. Correct or reset these values:",
    ),
    "settings.errors": (
        "Tidak disimpan: {count} isian perlu diperbaiki.",
        "Not saved: {count} entries need correcting.",
    ),
    "settings.save": ("Simpan pengaturan", "Save settings"),
    "settings.reset": ("kembalikan", "reset"),
    "settings.reset_group": (
        "Kembalikan bagian ini ke berkas",
        "Reset this section to the file",
    ),
    "settings.file_value": ("Diubah; di berkas: {value}.", "Changed; in the file: {value}."),
    "settings.yes": ("ya", "yes"),
    "settings.no": ("tidak", "no"),
    "settings.none": ("(tidak ada)", "(none)"),
    # the cards
    "settings.group.throttle": ("Panggilan berulang", "Repeat calls"),
    "settings.group.abuse": ("Tangga penyalahgunaan", "Abuse ladder"),
    "settings.group.callers": (
        "Nomor tersembunyi dan nomor tak dikenal",
        "Withheld and unknown numbers",
    ),
    "settings.group.challenge": ("Tantangan (tekan tombol)", "Challenge (press a key)"),
    "settings.group.flood": ("Mode banjir panggilan", "Flood mode"),
    "settings.group.prompts_id": (
        "Pesan suara: Bahasa Indonesia",
        "Voice prompts: Bahasa Indonesia",
    ),
    "settings.group.prompts_en": ("Pesan suara: bahasa Inggris", "Voice prompts: English"),
    "settings.group.sms": ("SMS peringatan", "SMS warnings"),
    # repeat calls
    "settings.field.policy.throttle.max_calls": (
        "Panggilan paling banyak",
        "Most calls",
    ),
    "settings.help.policy.throttle.max_calls": (
        "Lebih dari ini dalam jangka di bawah, tanpa bicara dengan petugas, mendapat tindakan.",
        "More than this within the window below, without reaching an operator, gets the action.",
    ),
    "settings.field.policy.throttle.window_s": ("Jangka waktu (detik)", "Window (seconds)"),
    "settings.help.policy.throttle.window_s": (
        "Jangka penghitungan panggilan berulang.",
        "How far back repeat calls are counted.",
    ),
    "settings.field.policy.throttle.action": ("Tindakan", "Action"),
    "settings.help.policy.throttle.action": (
        "Tantangan tetap memberi jalan kepada penelepon asli.",
        "A challenge still lets a genuine caller through.",
    ),
    # abuse ladder
    "settings.field.policy.abuse.ladder": ("Anak tangga", "Steps"),
    "settings.help.policy.abuse.ladder": (
        "Sekian penilaian iseng/diam dari petugas dalam jangka itu membatasi nomor selama "
        "waktu pembatasan. Kosongkan satu baris untuk menghapus anak tangga itu.",
        "This many prank or ghost dispositions by operators within the span restrict the "
        "number for the restriction time. Empty a row to remove that step.",
    ),
    "settings.ladder.step": ("Anak tangga", "Step"),
    "settings.ladder.count": ("Jumlah penilaian", "Dispositions"),
    "settings.ladder.within_s": ("Dalam (detik)", "Within (seconds)"),
    "settings.ladder.restrict_s": ("Dibatasi selama (detik)", "Restricted for (seconds)"),
    "settings.ladder.flag_supervisor": ("Beri tahu supervisor", "Flag to supervisor"),
    "settings.ladder.cell": ("Anak tangga {step}, {column}", "Step {step}, {column}"),
    "settings.ladder.step_text": (
        "{count} dalam {within}: {restrict}",
        "{count} within {within}: {restrict}",
    ),
    "settings.field.policy.abuse.action": ("Tindakan", "Action"),
    "settings.help.policy.abuse.action": (
        "Yang terjadi pada panggilan dari nomor yang sedang dibatasi.",
        "What happens to calls from a restricted number.",
    ),
    "settings.field.policy.abuse.immunity_s": (
        "Kekebalan setelah panggilan asli (detik)",
        "Immunity after a genuine call (seconds)",
    ),
    "settings.help.policy.abuse.immunity_s": (
        "Selama ini sesudah panggilan asli, nomor itu tidak disaring sama sekali.",
        "For this long after a genuine call, the number is not screened at all.",
    ),
    # withheld and unknown numbers
    "settings.field.policy.withheld_action": ("Nomor disembunyikan", "Withheld number"),
    "settings.help.policy.withheld_action": (
        "Saat banjir panggilan, \u201clolos\u201d tetap diberi tantangan.",
        "During a flood, \u201cpass\u201d is challenged all the same.",
    ),
    "settings.field.policy.unavailable_action": ("Nomor tidak tersedia", "Number unavailable"),
    "settings.help.policy.unavailable_action": (
        "Jaringan tidak mengirim nomor (telepon umum, luar area).",
        "The network sent no number (payphone, out of area).",
    ),
    "settings.field.policy.unparseable_action": ("Nomor tidak sah", "Unparseable number"),
    "settings.help.policy.unparseable_action": (
        "Yang dikirim jaringan bukan nomor telepon.",
        "What the network sent is not a phone number.",
    ),
    "settings.field.policy.challenge_unknown": (
        "Tantang nomor tanpa riwayat baik",
        "Challenge numbers with no good history",
    ),
    "settings.help.policy.challenge_unknown": (
        "Tanpa centang, nomor seperti itu langsung diteruskan ke petugas.",
        "Unticked, such numbers go straight to an operator.",
    ),
    "settings.field.policy.good_history_s": (
        "Riwayat baik setelah lolos tantangan (detik)",
        "Good history after a passed challenge (seconds)",
    ),
    "settings.help.policy.good_history_s": (
        "Selama ini, nomor yang lolos tantangan tidak ditantang lagi.",
        "For this long, a number that passed a challenge is not challenged again.",
    ),
    "settings.field.policy.junk_evidence_s": (
        "Bukti iseng berlaku (detik)",
        "Prank evidence lasts (seconds)",
    ),
    "settings.help.policy.junk_evidence_s": (
        "Penilaian iseng/diam semuda ini membuat penelepon yang tidak menekan tombol diputus.",
        "A prank or ghost disposition this recent releases a caller who never presses the key.",
    ),
    # challenge
    "settings.field.challenge.key": ("Tombol tantangan", "Challenge key"),
    "settings.help.challenge.key": (
        "1 sampai 4 tombol: 0-9, * dan #. Sesuaikan pesan suara!",
        "1 to 4 keys: 0-9, * and #. Change the voice prompts to match!",
    ),
    "settings.field.challenge.attempts": ("Pesan diputar", "Prompt plays"),
    "settings.help.challenge.attempts": (
        "Berapa kali pesan tantangan diputar (1 sampai 5).",
        "How many times the challenge prompt plays (1 to 5).",
    ),
    "settings.field.challenge.wait_after_prompt_s": (
        "Tunggu setelah pesan (detik)",
        "Wait after the prompt (seconds)",
    ),
    "settings.help.challenge.wait_after_prompt_s": (
        "Waktu menekan tombol setelah tiap pesan.",
        "Time to press the key after each prompt.",
    ),
    "settings.field.challenge.warn_reported": (
        "Peringatkan nomor yang pernah dilaporkan",
        "Warn reported numbers",
    ),
    "settings.help.challenge.warn_reported": (
        "Penelepon dari nomor yang tercatat iseng mendengar peringatan lalu menunggu.",
        "A caller from a number on record for pranks hears a warning, then waits.",
    ),
    "settings.field.challenge.reported_hold_s": (
        "Tunggu tambahan setelah peringatan (detik)",
        "Extra wait after the warning (seconds)",
    ),
    "settings.help.challenge.reported_hold_s": (
        "0 sampai 300 detik; 0: tanpa tunggu.",
        "0 to 300 seconds; 0: no wait.",
    ),
    "settings.field.challenge.unverified_without_evidence": (
        "Tidak menekan tombol, tanpa bukti iseng",
        "Never pressed the key, no prank evidence",
    ),
    "settings.help.challenge.unverified_without_evidence": (
        "Untuk penelepon yang tidak menekan tombol dari nomor tanpa catatan iseng.",
        "For callers who never press the key, from numbers with no prank record.",
    ),
    "settings.unverified.listen": (
        "dengarkan: teruskan jika ada suara",
        "listen: pass if a voice is heard",
    ),
    "settings.unverified.operator": ("selalu teruskan ke petugas", "always pass to an operator"),
    "settings.unverified.release": ("selalu putuskan", "always release"),
    "settings.field.challenge.hang_up_unverified_for": (
        "Putuskan yang tidak menekan tombol, bila ditantang karena",
        "Release callers who never press the key, when challenged for",
    ),
    "settings.help.challenge.hang_up_unverified_for": (
        "Mereka mendengar pesan perpisahan; penelepon lain yang tetap di saluran diteruskan.",
        "They hear the goodbye message; other callers who stay on the line are passed.",
    ),
    # flood
    "settings.field.policy.flood.rate_window_s": (
        "Jangka hitung (detik)",
        "Count window (seconds)",
    ),
    "settings.help.policy.flood.rate_window_s": (
        "Jangka penghitungan panggilan masuk.",
        "How far back arriving calls are counted.",
    ),
    "settings.field.policy.flood.max_calls_in_window": (
        "Panggilan paling banyak dalam jangka itu",
        "Most calls in that window",
    ),
    "settings.help.policy.flood.max_calls_in_window": (
        "Lebih dari ini memulai mode banjir panggilan.",
        "More than this starts flood mode.",
    ),
    "settings.field.policy.flood.saturation_s": (
        "Semua saluran sibuk selama (detik)",
        "Every line busy for (seconds)",
    ),
    "settings.help.policy.flood.saturation_s": (
        "Semua saluran sibuk selama ini juga memulai mode banjir panggilan.",
        "Every line busy this long also starts flood mode.",
    ),
    "settings.field.policy.flood.block_min_share": (
        "Bagian minimum satu blok nomor",
        "Least share of one number block",
    ),
    "settings.help.policy.flood.block_min_share": (
        "Blok nomor dengan bagian panggilan sebesar ini (0,5 atau 50 %) ditolak saat banjir.",
        "A number block with this share of the calls (0.5 or 50 %) is rejected in a flood.",
    ),
    "settings.field.policy.flood.block_min_calls": (
        "Panggilan minimum satu blok nomor",
        "Least calls from one number block",
    ),
    "settings.help.policy.flood.block_min_calls": (
        "Blok nomor perlu sekian panggilan sebelum dapat ditolak.",
        "A number block needs this many calls before it can be rejected.",
    ),
    "settings.field.policy.flood.block_prefix_digits": (
        "Digit yang dibuang untuk blok nomor",
        "Digits dropped for a number block",
    ),
    "settings.help.policy.flood.block_prefix_digits": (
        "1 sampai 10: digit terakhir nomor E.164 yang dibuang untuk membentuk blok.",
        "1 to 10: last digits of the E.164 number dropped to form the block.",
    ),
    "settings.field.policy.flood.quiet_s": ("Tenang selama (detik)", "Quiet for (seconds)"),
    "settings.help.policy.flood.quiet_s": (
        "Mode banjir panggilan berakhir setelah tenang selama ini.",
        "Flood mode ends after this long of quiet.",
    ),
    # prompts (per language)
    "settings.field.prompts.challenge": ("Pesan tantangan", "Challenge prompt"),
    "settings.help.prompts.challenge": (
        "Harus menyebut tombol tantangan. Rekaman yang disebut di berkas konfigurasi lebih "
        "diutamakan daripada teks ini.",
        "Must name the challenge key. A recording named in the configuration file wins over "
        "this text.",
    ),
    "settings.field.prompts.connecting": ("Pesan menyambungkan", "Connecting prompt"),
    "settings.help.prompts.connecting": (
        "Diputar saat penelepon diteruskan ke petugas.",
        "Played while the caller is put through to an operator.",
    ),
    "settings.field.prompts.announce": ("Pesan pembatasan", "Restriction message"),
    "settings.help.prompts.announce": (
        "Diputar untuk tindakan \u201cpesan\u201d, lalu panggilan diputus.",
        "Played for the \u201cannounce\u201d action, then the call ends.",
    ),
    "settings.field.prompts.silent_goodbye": ("Pesan perpisahan", "Goodbye message"),
    "settings.help.prompts.silent_goodbye": (
        "Untuk penelepon yang diputus karena tidak menekan tombol.",
        "For callers released because they never pressed the key.",
    ),
    "settings.field.prompts.reported": ("Peringatan nomor dilaporkan", "Reported-number warning"),
    "settings.help.prompts.reported": (
        "Untuk nomor yang tercatat iseng dan menekan tombol.",
        "For a number on record for pranks that pressed the key.",
    ),
    "settings.field.prompts.challenge_seconds": (
        "Lama pesan tantangan (detik)",
        "Challenge prompt length (seconds)",
    ),
    "settings.help.prompts.challenge_seconds": (
        "Perkiraan lama pesan diputar.",
        "About how long the prompt plays.",
    ),
    "settings.field.prompts.connecting_seconds": (
        "Lama pesan menyambungkan (detik)",
        "Connecting prompt length (seconds)",
    ),
    "settings.help.prompts.connecting_seconds": (
        "Perkiraan lama pesan diputar.",
        "About how long the prompt plays.",
    ),
    "settings.field.prompts.announce_seconds": (
        "Lama pesan pembatasan (detik)",
        "Restriction message length (seconds)",
    ),
    "settings.help.prompts.announce_seconds": (
        "Perkiraan lama pesan diputar.",
        "About how long the prompt plays.",
    ),
    "settings.field.prompts.goodbye_seconds": (
        "Lama pesan perpisahan (detik)",
        "Goodbye message length (seconds)",
    ),
    "settings.help.prompts.goodbye_seconds": (
        "Perkiraan lama pesan diputar.",
        "About how long the prompt plays.",
    ),
    "settings.field.prompts.reported_seconds": (
        "Lama peringatan (detik)",
        "Warning length (seconds)",
    ),
    "settings.help.prompts.reported_seconds": (
        "Perkiraan lama pesan diputar.",
        "About how long the prompt plays.",
    ),
    # SMS
    "settings.field.sms.enabled": ("Kirim SMS", "Send SMS"),
    "settings.help.sms.enabled": (
        "Setiap SMS memakai pulsa. Tanpa centang, tidak ada SMS sama sekali.",
        "Each SMS costs credit. Unticked, no SMS is sent at all.",
    ),
    "settings.field.sms.warn_restricted": (
        "Peringatkan nomor yang dibatasi",
        "Warn restricted numbers",
    ),
    "settings.help.sms.warn_restricted": (
        "Kirim SMS peringatan saat tangga penyalahgunaan membatasi nomor.",
        "Text a warning when the abuse ladder restricts a number.",
    ),
    "settings.field.sms.warning_text": ("Teks peringatan", "Warning text"),
    "settings.help.sms.warning_text": ("Paling banyak 480 karakter.", "At most 480 characters."),
    "settings.field.sms.max_per_day": ("SMS per hari, paling banyak", "Most SMS a day"),
    "settings.help.sms.max_per_day": (
        "Semua jenis SMS dihitung; 0: tidak ada.",
        "SMS of all kinds count; 0: none.",
    ),
    "settings.field.sms.warnings_per_number_s": (
        "Satu peringatan per nomor tiap (detik)",
        "One warning per number every (seconds)",
    ),
    "settings.help.sms.warnings_per_number_s": (
        "Nomor yang sama tidak diperingatkan lagi dalam waktu ini.",
        "The same number is not warned again within this time.",
    ),
    "settings.field.sms.supervisors": ("Nomor supervisor", "Supervisors' numbers"),
    "settings.help.sms.supervisors": (
        "Menerima alarm. Satu nomor per baris, bentuk apa pun (0812-3456-7890, +62 812...).",
        "They receive alarms. One number a line, any form (0812-3456-7890, +62 812...).",
    ),
    # durations in words
    "settings.unit.days": ("{n} hari", "{n} d"),
    "settings.unit.hours": ("{n} jam", "{n} h"),
    "settings.unit.minutes": ("{n} menit", "{n} min"),
    "settings.unit.seconds": ("{n} detik", "{n} s"),
    # problems
    "settings.error.gt": ("Harus lebih dari {limit}.", "Must be more than {limit}."),
    "settings.error.ge": ("Paling sedikit {limit}.", "At least {limit}."),
    "settings.error.lt": ("Harus kurang dari {limit}.", "Must be less than {limit}."),
    "settings.error.le": ("Paling banyak {limit}.", "At most {limit}."),
    "settings.error.required": ("Wajib diisi.", "Required."),
    "settings.error.too_long": (
        "Terlalu panjang (paling banyak {limit} karakter).",
        "Too long (at most {limit} characters).",
    ),
    "settings.error.pattern": (
        "Hanya 1 sampai 4 tombol: 0-9, * dan #.",
        "Only 1 to 4 keys: 0-9, * and #.",
    ),
    "settings.error.whole_number": (
        "\u201c{value}\u201d bukan bilangan bulat.",
        "\u201c{value}\u201d is not a whole number.",
    ),
    "settings.error.number": (
        "\u201c{value}\u201d bukan angka atau lama waktu (contoh: 600, 0,5, 10 menit).",
        "\u201c{value}\u201d is not a number or a duration (e.g. 600, 0.5, 10 min).",
    ),
    "settings.error.choice": ("Pilihan tidak dikenal.", "Unknown choice."),
    "settings.error.bad_number": (
        "\u201c{value}\u201d bukan nomor telepon lengkap.",
        "\u201c{value}\u201d is not a whole phone number.",
    ),
    "settings.error.too_many": ("Paling banyak {limit} nomor.", "At most {limit} numbers."),
    "settings.error.unknown_setting": (
        "Pengaturan \u201c{value}\u201d tidak dikenal.",
        "Unknown setting \u201c{value}\u201d.",
    ),
    "settings.error.refused": ("Nilai ditolak: {detail}", "Value refused: {detail}"),
    "settings.error.ladder_order": (
        "Jumlah penilaian harus naik dari satu anak tangga ke berikutnya.",
        "The number of dispositions must rise from one step to the next.",
    ),
    "error.settings_invalid": (
        "Pengaturan tidak disimpan: ada nilai yang ditolak.",
        "The settings were not saved: some values were refused.",
    ),
    "done.settings_saved": (
        "Pengaturan disimpan. Layanan saluran menerapkannya dalam beberapa detik.",
        "Settings saved. The line service applies them within seconds.",
    ),
    "done.settings_unchanged": ("Tidak ada yang berubah.", "Nothing changed."),
    "done.settings_reset": (
        "Dikembalikan ke nilai berkas konfigurasi.",
        "Reset to the configuration file's value.",
    ),
    "action.settings.change": (
        "Pengaturan penyaringan diubah",
        "Screening settings changed",
    ),
}
