"""The reports page's words for the centre's categories (`web_ui.reports.categories`): who
classified each call, Siaga's own classes and the share, in Bahasa Indonesia and English
(see `web_ui.core.i18n`)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "reports.cat.title_day": (
        "Panggilan per hari menurut kategori pusat",
        "Calls per day in the centre's categories",
    ),
    "reports.cat.title_month": (
        "Panggilan per bulan menurut kategori pusat",
        "Calls per month in the centre's categories",
    ),
    "reports.cat.intro": (
        "Setiap panggilan dihitung tepat satu kali: penilaian operator bila ada, jika tidak "
        "penggolongan Siaga sendiri (lihat tabel di bawah); sisanya Lainnya. Angka ini "
        "yang dilaporkan ke atas.",
        "Every call is counted exactly once: the operator's verdict where there is one, "
        "else Siaga's own classification (see the tables below); the rest is Other. These "
        "are the figures to report upward.",
    ),
    "reports.cat.other": ("Lainnya", "Other"),
    "reports.cat.share": ("Porsi iseng + hantu", "Prank + ghost share"),
    "reports.cat.share_of": (
        "iseng + hantu dari semua {calls} panggilan periode ini",
        "prank + ghost out of all {calls} calls of the period",
    ),
    "reports.cat.share_help": (
        "Porsi iseng + hantu = (iseng + hantu, oleh operator dan Siaga) dibagi semua "
        "panggilan periode itu.",
        "Prank + ghost share = (prank + ghost, by operators and by Siaga) divided by every "
        "call of the period.",
    ),
    "reports.cat.by_whom": ("Siapa yang menggolongkan", "Who classified them"),
    "reports.cat.category": ("Kategori", "Category"),
    "reports.cat.by_operators": ("Dicatat operator", "Recorded by operators"),
    "reports.cat.by_siaga": ("Digolongkan Siaga", "Classified by Siaga"),
    "reports.cat.no_verdict": ("Tanpa penilaian", "No verdict"),
    "reports.cat.genuine": ("Asli (semua jenis)", "Genuine (every kind)"),
    "reports.cat.no_verdict_help": (
        "Tanpa penilaian: sampai ke operator atau berdering tanpa dicatat; dihitung Lainnya.",
        "No verdict: reached an operator or rang, and nobody recorded it; counted as Other.",
    ),
    "reports.cat.siaga_classes": (
        "Yang digolongkan Siaga sendiri",
        "What Siaga classified itself",
    ),
    "reports.cat.how": ("Apa yang terjadi", "What happened"),
    "reports.cat.none_by_siaga": (
        "Siaga tidak menggolongkan panggilan apa pun pada periode ini.",
        "Siaga classified no call in this period.",
    ),
    "reports.cat.archived": (
        "Bulan yang diarsipkan hanya menyimpan penilaian operator: di sana panggilan tanpa "
        "penilaian dihitung Lainnya.",
        "Archived months keep only the operators' verdicts: there, calls without a verdict "
        "are counted as Other.",
    ),
    "reports.cat.class.silent_after_challenge": (
        "Diam setelah tantangan, dilepas",
        "Silent after the challenge, released",
    ),
    "reports.cat.class.hung_up_on_prompt": (
        "Menutup telepon saat pesan tantangan",
        "Hung up on the challenge prompt",
    ),
    "reports.cat.class.wrong_key": (
        "Tombol salah di setiap percobaan",
        "Wrong key on every attempt",
    ),
    "reports.cat.class.refused_rule": (
        "Ditolak oleh aturan blokir",
        "Refused by a block rule",
    ),
    "reports.cat.class.refused_abuse": (
        "Ditolak oleh tangga penyalahgunaan",
        "Refused by the abuse ladder",
    ),
    "reports.cat.class.refused_flood": (
        "Ditolak saat banjir panggilan",
        "Refused in a call flood",
    ),
    "reports.cat.class.refused_repeat": (
        "Ditolak karena panggilan berulang",
        "Refused for repeat calls",
    ),
    "reports.cat.class.refused_other": (
        "Ditolak karena alasan lain (mis. nomor disembunyikan)",
        "Refused for another reason (e.g. a withheld number)",
    ),
    "reports.csv.prank_by_siaga": ("Iseng oleh Siaga", "Prank by Siaga"),
    "reports.csv.ghost_by_siaga": ("Hantu oleh Siaga", "Ghost by Siaga"),
    "reports.csv.share": ("Porsi iseng + hantu (%)", "Prank + ghost share (%)"),
    "reports.csv_excel": ("Unduh untuk Excel (;)", "Download for Excel (;)"),
    "reports.csv_plain": ("CSV lengkap (,)", "Full CSV (,)"),
    "reports.verdicts_day": (
        "Penilaian operator dan penyaringan per hari",
        "Operators' verdicts and screening per day",
    ),
    "reports.verdicts_month": (
        "Penilaian operator dan penyaringan per bulan",
        "Operators' verdicts and screening per month",
    ),
}
