"""The words of the dashboard page and of the numbers flagged for a supervisor (a section
of the reports page), in Bahasa Indonesia and English (see `web_ui.core.i18n`)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "dashboard.title": ("Dasbor", "Dashboard"),
    "dashboard.welcome": ("Selamat datang, {name}.", "Welcome, {name}."),
    "dashboard.as_of": ("Angka per {time}", "Figures as of {time}"),
    "dashboard.refresh": (
        "diperbarui otomatis setiap {seconds} detik",
        "refreshed every {seconds} seconds",
    ),
    # today
    "dashboard.today": ("Hari ini, {day}", "Today, {day}"),
    "dashboard.calls": ("Panggilan", "Calls"),
    "dashboard.screened": ("Disaring", "Screened"),
    "dashboard.screened_share": ("Porsi disaring", "Share screened"),
    "dashboard.share_of": ("dari {calls} panggilan hari ini", "of today's {calls} calls"),
    "dashboard.reached_operator": ("Sampai ke operator", "Reached an operator"),
    "dashboard.genuine": ("Asli", "Genuine"),
    "dashboard.prank": ("Iseng", "Prank"),
    "dashboard.ghost": ("Hantu", "Ghost"),
    "dashboard.by_reason": ("Disaring menurut alasan", "Screened by reason"),
    "dashboard.none_screened": (
        "Belum ada panggilan yang disaring hari ini.",
        "No call has been screened today.",
    ),
    "dashboard.today_note": (
        "Sejak tengah malam waktu setempat. Disaring: setiap keputusan selain lolos "
        "(tantangan, pesan, tolak). Asli: penilaian operator sejauh ini. Iseng dan hantu "
        "(penelepon diam): penilaian operator ditambah yang digolongkan Siaga sendiri, seperti "
        "di laporan.",
        "Since local midnight. Screened: any decision other than pass (challenge, announce, "
        "reject). Genuine: operators' dispositions so far. Prank and ghost (silent callers): "
        "operators' dispositions plus what Siaga classified itself, as in the reports.",
    ),
    "dashboard.reason_other": ("lainnya", "other"),
    # the line service and flood mode
    "dashboard.service": ("Layanan saluran", "Line service"),
    "dashboard.running": ("Berjalan", "Running"),
    "dashboard.not_running": ("Tidak berjalan", "Not running"),
    "dashboard.stale": (
        "Tidak ada tanda hidup dari layanan saluran sejak {time}. Panggilan mungkin tidak "
        "disaring: periksa layanan `siaga`.",
        "No sign of life from the line service since {time}. Calls may not be screened: "
        "check the `siaga` service.",
    ),
    "dashboard.never_seen": (
        "Layanan saluran belum pernah melapor ke basis data ini.",
        "The line service has never reported to this database.",
    ),
    "dashboard.version": ("Versi", "Version"),
    "dashboard.started": ("Dimulai", "Started"),
    "dashboard.uptime": ("Lama berjalan", "Uptime"),
    "dashboard.heartbeat": ("Tanda hidup terakhir", "Last heartbeat"),
    "dashboard.flood": ("Mode banjir panggilan", "Flood mode"),
    "dashboard.flood_on": ("AKTIF", "ON"),
    "dashboard.flood_off": ("Tidak aktif", "Off"),
    "dashboard.flood_since": ("Sejak", "Since"),
    "dashboard.flood_reason": ("Alasan", "Reason"),
    "dashboard.flood_help": (
        "Selama banjir panggilan, penelepon tanpa riwayat baik diberi tantangan.",
        "During a flood, callers with no good history are challenged.",
    ),
    "dashboard.flood_stale": (
        "Seperti dilaporkan terakhir oleh layanan saluran, yang kini tidak berjalan.",
        "As last reported by the line service, which is not running now.",
    ),
    # lines
    "dashboard.lines": ("Kesehatan saluran", "Line health"),
    "dashboard.line": ("Saluran", "Line"),
    "dashboard.state": ("Keadaan", "State"),
    "dashboard.signal": ("Sinyal", "Signal"),
    "dashboard.network": ("Jaringan / SIM", "Network / SIM"),
    "dashboard.modem": ("Modem", "Modem"),
    "dashboard.last_error": ("Kesalahan terakhir", "Last error"),
    "dashboard.updated": ("Diperbarui", "Updated"),
    "dashboard.signal.none": ("tidak ada sinyal", "no signal"),
    "dashboard.signal.weak": ("lemah", "weak"),
    "dashboard.signal.fair": ("cukup", "fair"),
    "dashboard.signal.good": ("baik", "good"),
    "dashboard.signal.excellent": ("sangat baik", "excellent"),
    "dashboard.signal.unknown": ("tidak diketahui", "unknown"),
    "dashboard.registration.home": ("terdaftar (jaringan asal)", "registered (home network)"),
    "dashboard.registration.roaming": ("terdaftar (roaming)", "registered (roaming)"),
    "dashboard.registration.searching": ("mencari jaringan", "searching for a network"),
    "dashboard.registration.denied": ("pendaftaran ditolak", "registration denied"),
    "dashboard.registration.idle": ("tidak terdaftar", "not registered"),
    "dashboard.registration.unknown": ("tidak diketahui", "unknown"),
    "dashboard.not_reported": ("belum dilaporkan", "not reported yet"),
    "dashboard.sim_hint": ("(SIM? cakupan?)", "(SIM? coverage?)"),
    "dashboard.sim_note": (
        "Keadaan SIM tidak ditanyakan ke modem. Saluran yang terdaftar (asal atau roaming) "
        "memiliki SIM yang berfungsi; ditolak atau tidak terdaftar bisa berarti SIM tidak "
        "ada, terkunci atau diblokir, atau tidak ada cakupan. IMEI adalah nomor modem, bukan SIM.",
        "The modem is not asked for its SIM's state. A registered line (home or roaming) has "
        "a working SIM; denied or not registered may mean a missing, locked or barred SIM, "
        "or no coverage. The IMEI names the modem, not the SIM.",
    ),
    "dashboard.no_lines": (
        "Belum ada saluran yang melapor. Apakah layanan saluran berjalan?",
        "No line has reported yet. Is the line service running?",
    ),
    # alarms
    "dashboard.alarms": ("Alarm 24 jam terakhir", "Alarms of the last 24 hours"),
    "dashboard.when": ("Waktu", "When"),
    "dashboard.alarm": ("Alarm", "Alarm"),
    "dashboard.detail": ("Rincian", "Detail"),
    "dashboard.no_alarms": (
        "Tidak ada alarm dalam 24 jam terakhir.",
        "No alarm in the last 24 hours.",
    ),
    "dashboard.alarm.alarm": ("Alarm", "Alarm"),
    "dashboard.alarm.flood_on": ("Mode banjir panggilan aktif", "Flood mode on"),
    "dashboard.alarm.line_crashed": (
        "Saluran macet dan dimulai ulang",
        "Line crashed and was restarted",
    ),
    "dashboard.alarm.supervisor_flag": (
        "Nomor ditandai untuk supervisor",
        "Number flagged for a supervisor",
    ),
    "dashboard.alarm.modem_changed": ("Modem tertukar (IMEI lain)", "Modem changed (other IMEI)"),
    "dashboard.alarm.recovery": ("Pemulihan saluran", "Line recovery"),
    "dashboard.alarm.missed_call": (
        "Panggilan tak terjawab: saluran sedang dinyalakan",
        "Missed call: the line was starting up",
    ),
    "dashboard.alarm.clock_unsynced": ("Jam sistem tidak sinkron", "System clock not synchronised"),
    "dashboard.alarm.disk_low": ("Ruang disk hampir habis", "Disk space low"),
    "dashboard.alarm.settings_lost": (
        "Modem kehilangan pengaturannya (reset diam-diam); dipulihkan",
        "Modem lost its settings (a silent reset); restored",
    ),
    "dashboard.alarm.line_degraded": (
        "Saluran terganggu: modem menolak pengaturan (mis. ID penelepon)",
        "Line degraded: the modem refuses a setting (e.g. caller ID)",
    ),
    "dashboard.alarm.caller_id_lost": (
        "Panggilan tanpa nomor: modem kehilangan ID penelepon",
        "Call without a number: the modem had lost caller ID",
    ),
    "dashboard.alarm.call_watchdog": (
        "Panggilan melewati batas waktu",
        "Call held past its time limit",
    ),
    "dashboard.alarm.call_left_up": (
        "Panggilan tertinggal di modem saat mulai; diputus",
        "Call left up on the modem at start; released",
    ),
    # durations
    "dashboard.duration_days": ("{days} hari {hours} jam", "{days} d {hours} h"),
    "dashboard.duration_hours": ("{hours} jam {minutes} menit", "{hours} h {minutes} min"),
    "dashboard.duration_minutes": ("{minutes} menit {seconds} detik", "{minutes} min {seconds} s"),
    "dashboard.duration_seconds": ("{seconds} detik", "{seconds} s"),
    # a province hub: one site
    "dashboard.site_note": (
        "Angka hari ini, alarm dan daftar panggil balik dari lokasi {site} saja.",
        "Today's figures, the alarms and the call-back list of site {site} only.",
    ),
    # the numbers flagged for a supervisor (a section of the reports page)
    "flagged.title": ("Nomor yang ditandai untuk supervisor", "Numbers flagged for a supervisor"),
    "flagged.intro": (
        "Nomor yang naik ke anak tangga penyalahgunaan yang ditandai dalam periode ini, yang "
        "terlama di atas. Pusat meminta operator seluler atau Kominfo menindaknya.",
        "Numbers that climbed to a flagged step of the abuse ladder in this period, oldest "
        "first. The centre asks the carrier or Kominfo to act on them.",
    ),
    "flagged.when": ("Ditandai", "Flagged"),
    "flagged.level": ("Anak tangga", "Ladder step"),
    "flagged.junk_24h": ("Iseng dan hantu dalam 24 jam", "Prank and ghost in 24 h"),
    "flagged.until": ("Dibatasi sampai", "Restricted until"),
    "flagged.none": (
        "Tidak ada nomor yang ditandai dalam periode ini.",
        "No number was flagged in this period.",
    ),
    "flagged.more": (
        "Hanya {shown} nomor pertama yang ditampilkan; persempit periode atau pilih satu "
        "lokasi. Semuanya:",
        "Only the first {shown} numbers are listed; narrow the period or pick a site. All of them:",
    ),
    "flagged.to_list": (
        "Nomor yang ditandai untuk supervisor, per periode",
        "Numbers flagged for a supervisor, by period",
    ),
}
