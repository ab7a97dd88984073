"""The words of the screening page, in Bahasa Indonesia and English (see `web_ui.core.i18n`)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "settings.title": ("Pengaturan penyaringan", "Screening settings"),
    "settings.intro": (
        "Perubahan berlaku untuk panggilan berikutnya dalam beberapa detik, tanpa memulai "
        "ulang. Angka: koma untuk desimal (0,5). Lama waktu dengan satuan: 30 detik, "
        "10 menit, 2 jam, 7 hari (tanpa satuan: detik).",
        "Changes apply to the next call within seconds, with no restart. Numbers: 0.5 or "
        "0,5. Durations with a unit: 30 s, 10 min, 2 h, 7 d (no unit: seconds).",
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
    "settings.group.abuse": (
        "Tangga penyalahgunaan dan reputasi",
        "Abuse ladder and reputation",
    ),
    "settings.group.callers": (
        "Nomor tersembunyi dan nomor tak dikenal",
        "Withheld and unknown numbers",
    ),
    "settings.group.challenge": ("Tantangan (tekan tombol)", "Challenge (press a key)"),
    "settings.group.flood": (
        "Mode banjir panggilan: kapan mulai dan berakhir",
        "Flood mode: when it starts and ends",
    ),
    "settings.group.flood_sources": (
        "Mode banjir panggilan: nomor asal banjir",
        "Flood mode: the numbers it comes from",
    ),
    "settings.group.flood_lines": (
        "Mode banjir panggilan: saluran cadangan dan tantangan singkat",
        "Flood mode: spare lines and the short challenge",
    ),
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
    "settings.field.policy.throttle.window_s": ("Jangka waktu", "Window"),
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
        "Sekian penilaian iseng/hantu dari petugas dalam jangka itu membatasi nomor selama "
        "waktu pembatasan. Kosongkan satu baris untuk menghapus anak tangga itu.",
        "This many prank or ghost dispositions by operators within the span restrict the "
        "number for the restriction time. Empty a row to remove that step.",
    ),
    "settings.ladder.step": ("Anak tangga", "Step"),
    "settings.ladder.count": ("Jumlah penilaian", "Dispositions"),
    "settings.ladder.within_s": ("Dalam", "Within"),
    "settings.ladder.restrict_s": ("Dibatasi selama", "Restricted for"),
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
        "Kekebalan setelah panggilan asli",
        "Immunity after a genuine call",
    ),
    "settings.help.policy.abuse.immunity_s": (
        "Selama ini sesudah panggilan asli, nomor itu tidak disaring sama sekali.",
        "For this long after a genuine call, the number is not screened at all.",
    ),
    "settings.field.policy.abuse.reputation_threshold": (
        "Batas reputasi iseng",
        "Prank reputation limit",
    ),
    "settings.help.policy.abuse.reputation_threshold": (
        "Tiap penilaian iseng/hantu bernilai 1 dan menyusut seiring waktu. Nomor yang "
        "jumlahnya mencapai batas ini dibatasi seperti oleh tangga. 0: mati.",
        "Each prank or ghost disposition counts 1 and fades with time. A number whose sum "
        "reaches this limit is restricted as by the ladder. 0: off.",
    ),
    "settings.field.policy.abuse.reputation_half_life_s": (
        "Nilai penilaian menyusut separuh tiap",
        "A disposition's weight halves every",
    ),
    "settings.help.policy.abuse.reputation_half_life_s": (
        "Reputasi mengingat berminggu-minggu: setelah sekian lama, satu penilaian bernilai "
        "separuh.",
        "The reputation remembers for weeks: after this long, one disposition counts half.",
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
        "Riwayat baik setelah lolos tantangan",
        "Good history after a passed challenge",
    ),
    "settings.help.policy.good_history_s": (
        "Selama ini, nomor yang lolos tantangan tidak ditantang lagi.",
        "For this long, a number that passed a challenge is not challenged again.",
    ),
    "settings.field.policy.junk_evidence_s": (
        "Bukti iseng berlaku",
        "Prank evidence lasts",
    ),
    "settings.help.policy.junk_evidence_s": (
        "Penilaian iseng/hantu semuda ini membuat penelepon yang tidak menekan tombol diputus.",
        "A prank or ghost disposition this recent releases a caller who never presses the key.",
    ),
    "settings.field.policy.heard_after_unheard_s": (
        "Suara tanpa tombol setelah panggilan senyap",
        "A voice without the key after a silent call",
    ),
    "settings.help.policy.heard_after_unheard_s": (
        "Bila tantangan nomor ini tidak mendengar siapa pun dalam rentang ini, panggilan "
        "berikutnya yang hanya bersuara tanpa menekan tombol diputus dan masuk daftar "
        "telepon balik: pola ponsel di saku. Tombol tetap meloloskan. 0 mematikannya.",
        "If a challenge of this number heard nobody within this long, its next call heard "
        "speaking without pressing the key is released and listed for a call-back: the "
        "pattern of a phone in a pocket. The key still passes. 0 turns this off.",
    ),
    # challenge
    "settings.field.challenge.key": ("Tombol tantangan", "Challenge key"),
    "settings.help.challenge.key": (
        "1 sampai 4 tombol: 0-9, * dan #. Ubah pesan suara yang menyebut tombol dalam "
        "perubahan yang sama; jika tidak, perubahan ditolak.",
        "1 to 4 keys: 0-9, * and #. Change the voice prompts that name the key in the same "
        "change; otherwise the change is refused.",
    ),
    "settings.field.challenge.attempts": ("Pesan diputar", "Prompt plays"),
    "settings.help.challenge.attempts": (
        "Berapa kali pesan tantangan diputar (1 sampai 5).",
        "How many times the challenge prompt plays (1 to 5).",
    ),
    "settings.field.challenge.wait_after_prompt_s": (
        "Tunggu setelah pesan",
        "Wait after the prompt",
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
        "Tunggu tambahan setelah peringatan",
        "Extra wait after the warning",
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
    "settings.field.challenge.silent_to_idle_operator": (
        "Penelepon diam ke petugas yang luang",
        "Silent callers to an idle operator",
    ),
    "settings.help.challenge.silent_to_idle_operator": (
        "Penelepon yang akan diputus oleh \u201cdengarkan\u201d diteruskan bila tidak ada "
        "panggilan lain yang menunggu petugas. Tanpa centang, mereka diputus dan masuk "
        "daftar telepon balik.",
        "Callers \u201clisten\u201d would release are passed while no other call waits for "
        "an operator. Unticked, they are released and put on the call-back list.",
    ),
    "settings.field.challenge.hang_up_unverified_for": (
        "Putuskan yang tidak menekan tombol, bila ditantang karena",
        "Release callers who never press the key, when challenged for",
    ),
    "settings.help.challenge.hang_up_unverified_for": (
        "Mereka mendengar pesan perpisahan; penelepon lain yang tetap di saluran diteruskan.",
        "They hear the goodbye message; other callers who stay on the line are passed.",
    ),
    # flood: when it starts and ends (any one signal starts it)
    "settings.field.policy.flood.enabled": (
        "Deteksi banjir panggilan",
        "Detect call floods",
    ),
    "settings.help.policy.flood.enabled": (
        "Tanpa centang, mode banjir panggilan tidak pernah mulai.",
        "Unticked, flood mode never starts.",
    ),
    "settings.field.policy.flood.rate_window_s": (
        "Jangka hitung",
        "Count window",
    ),
    "settings.help.policy.flood.rate_window_s": (
        "Jangka penghitungan panggilan masuk, nomor baru, panggilan dari satu nomor atau "
        "blok, dan nomor tersembunyi.",
        "How far back arriving calls, new numbers, calls from one number or block and "
        "withheld calls are counted.",
    ),
    "settings.field.policy.flood.max_calls_in_window": (
        "Panggilan paling banyak dalam jangka itu",
        "Most calls in that window",
    ),
    "settings.help.policy.flood.max_calls_in_window": (
        "Lebih dari ini memulai mode banjir panggilan. Penelepon yang menunggu karena "
        "saluran sibuk ikut dihitung.",
        "More than this starts flood mode. Callers seen waiting on a busy line count too.",
    ),
    "settings.field.policy.flood.new_numbers_min": (
        "Panggilan dari nomor baru",
        "Calls from new numbers",
    ),
    "settings.help.policy.flood.new_numbers_min": (
        "Sekian panggilan dari nomor yang belum dikenal, dalam jangka hitung, memulai mode "
        "banjir panggilan.",
        "This many calls from numbers not seen before, within the count window, start flood mode.",
    ),
    "settings.field.policy.flood.saturation_s": (
        "Jangka saluran penuh",
        "Busy-lines window",
    ),
    "settings.help.policy.flood.saturation_s": (
        "Jangka pemeriksaan saluran sibuk, saluran yang cepat terisi lagi, dan penelepon "
        "yang menunggu.",
        "How far back busy lines, lines taken again quickly and waiting callers are looked at.",
    ),
    "settings.field.policy.flood.saturation_occupancy": (
        "Bagian waktu saluran sibuk",
        "Share of the time lines are busy",
    ),
    "settings.help.policy.flood.saturation_occupancy": (
        "Saluran sibuk sebesar ini (0,9 atau 90%) dari jangka saluran penuh, dan cukup "
        "sering terisi lagi dengan cepat, memulai mode banjir panggilan.",
        "Lines busy this share (0.9 or 90%) of the busy-lines window, and taken again "
        "quickly often enough, start flood mode.",
    ),
    "settings.field.policy.flood.reseize_s": (
        "Terisi lagi dengan cepat: dalam",
        "Taken again quickly: within",
    ),
    "settings.help.policy.flood.reseize_s": (
        "Saluran yang menerima panggilan baru secepat ini setelah panggilan sebelumnya "
        "berakhir: tanda banjir.",
        "A line that takes a new call this soon after the last one ended: a sign of a flood.",
    ),
    "settings.field.policy.flood.reseize_min": (
        "Terisi lagi dengan cepat, paling sedikit",
        "Taken again quickly, at least",
    ),
    "settings.help.policy.flood.reseize_min": (
        "Berapa kali dalam jangka saluran penuh, bersama bagian waktu sibuk di atas. "
        "0: bagian waktu sibuk saja.",
        "How many times within the busy-lines window, together with the busy share above. "
        "0: the busy share alone.",
    ),
    "settings.field.policy.flood.waiting_min_calls": (
        "Penelepon menunggu di saluran sibuk",
        "Callers waiting on busy lines",
    ),
    "settings.help.policy.flood.waiting_min_calls": (
        "Sekian penelepon yang mendapati saluran sibuk, dalam jangka saluran penuh, memulai "
        "mode banjir panggilan. Layanan panggilan tunggu harus aktif di kartu SIM.",
        "This many callers who find the lines busy, within the busy-lines window, start "
        "flood mode. Call waiting must be on for the SIMs.",
    ),
    "settings.field.policy.flood.quiet_s": ("Tenang selama", "Quiet for"),
    "settings.help.policy.flood.quiet_s": (
        "Mode banjir panggilan berakhir setelah sekian lama tanpa tanda banjir.",
        "Flood mode ends after this long with no sign of a flood.",
    ),
    # flood: where it comes from (these start flood mode too, and are rejected in it)
    "settings.field.policy.flood.number_min_calls": (
        "Panggilan dari satu nomor",
        "Calls from one number",
    ),
    "settings.help.policy.flood.number_min_calls": (
        "Satu nomor dengan sekian panggilan dalam jangka hitung (dan bagian di bawah) memulai "
        "mode banjir panggilan, dan ditolak selama banjir.",
        "One number with this many calls in the count window (and the share below) starts "
        "flood mode, and is rejected during it.",
    ),
    "settings.field.policy.flood.block_prefix_digits": (
        "Digit yang dibuang untuk blok nomor",
        "Digits dropped for a number block",
    ),
    "settings.help.policy.flood.block_prefix_digits": (
        "1 sampai 10: digit terakhir nomor yang dibuang untuk membentuk blok (blok dengan 2 "
        "digit terakhir dibuang selalu diperiksa juga).",
        "1 to 10: last digits of the number dropped to form a block (the block without the "
        "last 2 digits is always looked at too).",
    ),
    "settings.field.policy.flood.block_min_numbers": (
        "Nomor berbeda dari satu blok",
        "Different numbers from one block",
    ),
    "settings.help.policy.flood.block_min_numbers": (
        "Panggilan dari sekian nomor berbeda dalam satu blok, dalam jangka hitung (dan "
        "bagian di bawah), memulai mode banjir panggilan. Paling sedikit 2.",
        "Calls from this many different numbers of one block, in the count window (and the "
        "share below), start flood mode. At least 2.",
    ),
    "settings.field.policy.flood.block_min_calls": (
        "Panggilan minimum satu blok nomor",
        "Least calls from one number block",
    ),
    "settings.help.policy.flood.block_min_calls": (
        "Selama banjir, blok nomor dengan sekian panggilan (dan bagian di bawah) ditolak.",
        "During a flood, a number block with this many calls (and the share below) is rejected.",
    ),
    "settings.field.policy.flood.block_min_share": (
        "Bagian minimum satu nomor atau blok",
        "Least share of one number or block",
    ),
    "settings.help.policy.flood.block_min_share": (
        "Bagian dari panggilan bernomor (0,5 atau 50%) yang harus dimiliki satu nomor atau "
        "blok untuk memulai mode banjir, atau untuk ditolak selama banjir.",
        "The share of calls with a number (0.5 or 50%) one number or block must have to "
        "start flood mode, or to be rejected during it.",
    ),
    "settings.field.policy.flood.withheld_min_calls": (
        "Panggilan nomor tersembunyi",
        "Withheld calls",
    ),
    "settings.help.policy.flood.withheld_min_calls": (
        "Sekian panggilan tanpa nomor dalam jangka hitung (dan bagian di bawah) memulai mode "
        "banjir panggilan; selama itu, panggilan tanpa nomor ditolak.",
        "This many calls without a number in the count window (and the share below) start "
        "flood mode; while it holds, calls without a number are rejected.",
    ),
    "settings.field.policy.flood.withheld_min_share": (
        "Bagian minimum nomor tersembunyi",
        "Least share of withheld calls",
    ),
    "settings.help.policy.flood.withheld_min_share": (
        "Bagian dari semua panggilan (0,5 atau 50%) yang harus tanpa nomor.",
        "The share of all calls (0.5 or 50%) that must come without a number.",
    ),
    # flood: spare lines and the short challenge
    "settings.field.policy.flood.reserve_lines": (
        "Saluran cadangan untuk yang menelepon ulang",
        "Lines kept for callers who try again",
    ),
    "settings.help.policy.flood.reserve_lines": (
        "Selama banjir, panggilan pertama yang akan memakai saluran terakhir ini diputus dan "
        "masuk daftar telepon balik. 0: tanpa cadangan.",
        "During a flood, a first call that would take one of these last lines is released "
        "and put on the call-back list. 0: none kept.",
    ),
    "settings.field.policy.flood.redial_window_s": (
        "Dianggap menelepon ulang dalam",
        "Counts as trying again within",
    ),
    "settings.help.policy.flood.redial_window_s": (
        "Penelepon yang menelepon atau menunggu dalam waktu ini bukan panggilan pertama: "
        "ia boleh memakai saluran cadangan.",
        "A caller who called or waited this recently is not a first call: they may take a "
        "kept line.",
    ),
    "settings.field.policy.flood.short_challenge_free_lines": (
        "Tantangan singkat bila saluran bebas paling banyak",
        "Short challenge when free lines are at most",
    ),
    "settings.help.policy.flood.short_challenge_free_lines": (
        "Selama banjir, tantangan singkat dipakai bila menerima panggilan menyisakan "
        "sekian saluran bebas atau kurang; selain itu tantangan biasa.",
        "During a flood, the short challenge is used when taking the call leaves this many "
        "free lines or fewer; otherwise the full challenge.",
    ),
    "settings.field.challenge.flood_wait_s": (
        "Tunggu setelah tantangan singkat",
        "Wait after the short challenge",
    ),
    "settings.help.challenge.flood_wait_s": (
        "Waktu menekan tombol atau bicara; yang tidak melakukan keduanya langsung diputus.",
        "Time to press the key or speak; a caller who does neither is released at once.",
    ),
    # prompts (per language)
    "settings.field.prompts.challenge": ("Pesan tantangan", "Challenge prompt"),
    "settings.help.prompts.challenge": (
        "Harus menyebut tombol tantangan. Rekaman yang disebut di berkas konfigurasi lebih "
        "diutamakan daripada teks ini.",
        "Must name the challenge key. A recording named in the configuration file wins over "
        "this text.",
    ),
    "settings.field.prompts.flood_challenge": (
        "Pesan tantangan singkat (banjir panggilan)",
        "Short challenge prompt (flood mode)",
    ),
    "settings.help.prompts.flood_challenge": (
        "Beberapa detik saja, saat banjir panggilan. Harus menyebut tombol tantangan. "
        "Rekaman yang disebut di berkas konfigurasi lebih diutamakan daripada teks ini.",
        "A few seconds only, in flood mode. Must name the challenge key. A recording named "
        "in the configuration file wins over this text.",
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
        "Lama pesan tantangan",
        "Challenge prompt length",
    ),
    "settings.help.prompts.challenge_seconds": (
        "Perkiraan lama pesan diputar.",
        "About how long the prompt plays.",
    ),
    "settings.field.prompts.flood_challenge_seconds": (
        "Lama pesan tantangan singkat",
        "Short challenge prompt length",
    ),
    "settings.help.prompts.flood_challenge_seconds": (
        "Perkiraan lama pesan diputar.",
        "About how long the prompt plays.",
    ),
    "settings.field.prompts.connecting_seconds": (
        "Lama pesan menyambungkan",
        "Connecting prompt length",
    ),
    "settings.help.prompts.connecting_seconds": (
        "Perkiraan lama pesan diputar.",
        "About how long the prompt plays.",
    ),
    "settings.field.prompts.announce_seconds": (
        "Lama pesan pembatasan",
        "Restriction message length",
    ),
    "settings.help.prompts.announce_seconds": (
        "Perkiraan lama pesan diputar.",
        "About how long the prompt plays.",
    ),
    "settings.field.prompts.goodbye_seconds": (
        "Lama pesan perpisahan",
        "Goodbye message length",
    ),
    "settings.help.prompts.goodbye_seconds": (
        "Perkiraan lama pesan diputar.",
        "About how long the prompt plays.",
    ),
    "settings.field.prompts.reported_seconds": (
        "Lama peringatan",
        "Warning length",
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
        "Satu peringatan per nomor tiap",
        "One warning per number every",
    ),
    "settings.help.sms.warnings_per_number_s": (
        "Nomor yang sama tidak diperingatkan lagi dalam waktu ini.",
        "The same number is not warned again within this time.",
    ),
    "settings.field.sms.supervisors": ("Nomor supervisor", "Supervisors' numbers"),
    "settings.help.sms.supervisors": (
        "Menerima alarm. Satu nomor per baris, bentuk apa pun (0812\u20113456\u20117890, "
        "+62\u00a0812...).",
        "They receive alarms. One number a line, any form (0812\u20113456\u20117890, "
        "+62\u00a0812...).",
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
    "settings.error.prompt_wrong_key": (
        "Pesan ini ({language}) menyuruh menekan {named}, padahal tombol tantangan {key}. "
        "Ubah pesannya bersama tombolnya.",
        "This prompt ({language}) says to press {named}, but the challenge key is {key}. "
        "Change the prompt together with the key.",
    ),
    "settings.error.prompt_no_key": (
        "Pesan tantangan ini ({language}) tidak menyebut tombol: tulis mis. \u201ctekan "
        "{key}\u201d atau \u201cpress {key}\u201d.",
        "This challenge prompt ({language}) names no key: write e.g. \u201ctekan {key}\u201d "
        "or \u201cpress {key}\u201d.",
    ),
    "settings.error.key_prompts_disagree": (
        "Pesan suara masih menyebut tombol lain; ubah pesan-pesan yang ditandai di bawah "
        "dalam perubahan yang sama.",
        "Voice prompts still name another key; change the prompts marked below in the same change.",
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
