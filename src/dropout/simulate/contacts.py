"""Names, phones, addresses and place names: what an officer needs to find and reach people.

None of this changes what happens in the simulation: it is drawn after the run from a
stream of its own (seeded by the run's seed), so every payment, lapse and visit is the
same as without it, and the same seed gives the same names.

- **Place names** are written in Vietnamese with diacritics (`A Lưới`, `Hồng Vân`,
  `Thị trấn A Lưới`): presets and generated names are ASCII syllables, spelled here by a
  syllable table. Province names stay as in the reference subsidy table
  (features/subsidy_policies.csv), which keys provincial top-ups by them. Village codes
  (`village_id`) stay ASCII.
- **Village names** (`village_name`): villages speaking a minority language get a name of
  two syllables of that language's usual shapes (A Đớt, Pa Ríp, Ka Vá: the villages of
  A Lưới are named so); Kinh villages are numbered hamlets or take a Vietnamese name.
- **Full names** (`full_name`): Kinh people draw a family name by its share in the
  population (Nguyễn ~38 %, Trần, Lê, Phạm, ...), a middle name (Văn / Thị, or another
  common one) and a given name; minority people of A Lưới carry Vietnamese family
  names given at registration (Hồ, Kăn, Blúp, Quỳnh, Lê, Nguyễn...) and given names of
  their language (assumption: shares are judgement calls, not statistics).
- **Phones** (`phone`): 10-digit mobile numbers with the carriers' current prefixes
  (Viettel 032-039, 086, 096-098; VinaPhone 081-085, 088, 091, 094; MobiFone 070,
  076-079, 089, 090, 093); about 12 % of people have none on record (assumption).
- **Addresses** (`address`): the hamlet group and house number within the village.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.schema import Tables

# ASCII syllable (as presets and generated names write them) -> Vietnamese spelling.
SYLLABLES = {
    "A": "A", "An": "An", "Bac": "Bắc", "Binh": "Bình", "Cam": "Cam", "Chau": "Châu", "Dai": "Đại",
    "Dakrong": "Đakrông", "Dien": "Điền", "Dinh": "Định", "Dong": "Đông", "Dot": "Đớt", "Duc": "Đức",
    "Giang": "Giang", "Gio": "Gio", "Ha": "Hà", "Hai": "Hải", "Hanh": "Hạnh", "Hiep": "Hiệp", "Hoa": "Hòa",
    "Hoang": "Hoàng", "Hong": "Hồng", "Hue": "Huế", "Hung": "Hưng", "Huong": "Hương", "Khanh": "Khánh",
    "Kim": "Kim", "Lac": "Lạc", "Lam": "Lâm", "Lang": "Lăng", "Lap": "Lập", "Le": "Lễ", "Lien": "Liên",
    "Linh": "Linh", "Lo": "Lộ", "Loc": "Lộc", "Loi": "Lợi", "Long": "Long", "Luoi": "Lưới", "Minh": "Minh",
    "My": "Mỹ", "Nam": "Nam", "Ngo": "Ngo", "Nghia": "Nghĩa", "Ngoc": "Ngọc", "Nguyen": "Nguyên",
    "Nham": "Nhâm", "Nhan": "Nhân", "Phong": "Phong", "Phu": "Phú", "Phuc": "Phúc", "Phuoc": "Phước",
    "Quang": "Quảng", "Quy": "Quý", "Roang": "Roàng", "Son": "Sơn", "Tan": "Tân", "Tay": "Tây",
    "Thach": "Thạch", "Thai": "Thái", "Thang": "Thắng", "Thanh": "Thanh", "Thien": "Thiên",
    "Thinh": "Thịnh", "Thuan": "Thuận", "Thuong": "Thượng", "Thuy": "Thủy", "Tien": "Tiến", "Tri": "Trị",
    "Trieu": "Triệu", "Trung": "Trung", "Truong": "Trường", "Tu": "Tú", "Van": "Vân", "Viet": "Việt",
    "Vinh": "Vinh", "Xuan": "Xuân", "Yen": "Yên",
}
# Words before a place's own name.
PREFIXES = {"Thi tran": "Thị trấn", "Thi xa": "Thị xã", "Thanh pho": "Thành phố"}


def vietnamese_place(name: str) -> str:
    """'Hong Van' -> 'Hồng Vân', 'Thi tran A Luoi' -> 'Thị trấn A Lưới'; unknown words stay."""
    text = str(name)
    for ascii_words, spelled in PREFIXES.items():
        if text.startswith(ascii_words + " "):
            return spelled + " " + vietnamese_place(text[len(ascii_words) + 1:])
    words = text.split(" ")
    # "Quang" is Quảng in a place name (Quảng Trị, Quảng Nhâm) except as a given name.
    return " ".join(SYLLABLES.get(w, w) for w in words)


# ---------------------------------------------------------------- people's names

KINH_FAMILY = {  # share of the Kinh population (rounded, assumption from common tallies)
    "Nguyễn": 0.38, "Trần": 0.11, "Lê": 0.095, "Phạm": 0.07, "Hoàng": 0.05, "Huỳnh": 0.03, "Phan": 0.045,
    "Vũ": 0.04, "Võ": 0.03, "Đặng": 0.02, "Bùi": 0.02, "Đỗ": 0.014, "Hồ": 0.013, "Ngô": 0.013,
    "Dương": 0.01, "Lý": 0.005,
}
KINH_MIDDLE = {"M": ["Văn", "Văn", "Văn", "Đức", "Minh", "Quang", "Hữu", "Công"],
               "F": ["Thị", "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim"]}
KINH_GIVEN = {
    "M": ["An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hùng", "Hưng", "Khánh", "Long", "Lộc", "Nam",
          "Phong", "Phúc", "Quân", "Sơn", "Tài", "Thắng", "Thành", "Toàn", "Trung", "Tuấn", "Việt", "Vinh"],
    "F": ["Anh", "Châu", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hương", "Lan", "Liên", "Linh",
          "Loan", "Mai", "Nga", "Ngân", "Nhung", "Oanh", "Phương", "Quyên", "Thảo", "Trang", "Tuyết", "Yến"],
}
MINORITY_FAMILY = ["Hồ", "Hồ", "Hồ", "Hồ", "Kăn", "Blúp", "Quỳnh", "Lê", "Lê", "Nguyễn", "A Viết", "Kê", "Ra Pát",
                   "Pi Lao", "Arất", "Coor", "Kray", "Căn"]
MINORITY_GIVEN = {
    "M": ["Đoan", "Pả", "Bhling", "Ăm", "Văn Kray", "A Lăng", "Văn Hiêng", "Cu", "Bơ", "Văn Xuân", "Tuất",
          "Văn Ka", "Ba", "Pâu", "Văn Hạ", "Thư", "Rớt", "Văn Cơm", "Hốt", "Kiêr"],
    "F": ["Thị Hiên", "Thị Phiên", "Thị Lanh", "Thị Nhâm", "Thị Bích", "Y Xuân", "Thị A Ly", "Thị Hạnh",
          "Thị Nga", "Thị Xiên", "Thị Kiêng", "Thị Mai", "Thị Phin", "Thị Thoan", "Thị Bon"],
}
# Minority-language village names of A Lưới's shapes (first syllable, second syllable).
VILLAGE_FIRST = ["A", "Pa", "Ka", "Ta", "Ra", "Kê", "Căn", "A Đi", "La", "Tru", "Cân", "Hợp", "Ba", "Ăm",
                 "Lê", "Quảng", "Tà", "Hương", "Âr", "Kăn"]
VILLAGE_SECOND = ["Đớt", "Ríp", "Vá", "Lo", "Tôm", "Chaih", "Nghe", "Roàng", "Hồ", "Sáp", "Ngo", "Ka", "Ho",
                  "Lưới", "Bạc", "Lanh", "Rưng", "Ay", "Loong", "Pa", "Vầu", "Bút", "Ktiêng", "Chi", "Xê"]
KINH_VILLAGE = ["Thôn 1", "Thôn 2", "Thôn 3", "Thôn 4", "Thôn 5", "Tổ dân phố 1", "Tổ dân phố 2", "Thôn Đông",
                "Thôn Tây", "Thôn Trung", "Thôn Bắc", "Thôn Nam", "Thôn Hợp Thành", "Thôn Phú Xuân", "Thôn An Lộc"]
MOBILE_PREFIXES = ["032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098",
                   "081", "082", "083", "084", "085", "088", "091", "094",
                   "070", "076", "077", "078", "079", "089", "090", "093"]
NO_PHONE_SHARE = 0.12
KINH = "Kinh"


def _pick(rng: np.random.Generator, options, n: int, p=None) -> np.ndarray:
    arr = np.array(options, dtype=object)
    if p is not None:
        p = np.asarray(p, dtype=float)
        p = p / p.sum()
    return arr[rng.choice(len(arr), size=n, p=p)]


def full_names(rng: np.random.Generator, ethnicity: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """One full name per person, in Vietnamese order (family, middle, given)."""
    n = len(ethnicity)
    out = np.empty(n, dtype=object)
    kinh = ethnicity == KINH
    for s in ("M", "F"):
        sel = np.flatnonzero(kinh & (sex == s))
        fam = _pick(rng, list(KINH_FAMILY), len(sel), list(KINH_FAMILY.values()))
        mid = _pick(rng, KINH_MIDDLE[s], len(sel))
        giv = _pick(rng, KINH_GIVEN[s], len(sel))
        out[sel] = pd.Series(fam).str.cat([pd.Series(mid), pd.Series(giv)], sep=" ").to_numpy(object)
        sel = np.flatnonzero(~kinh & (sex == s))
        fam = _pick(rng, MINORITY_FAMILY, len(sel))
        giv = _pick(rng, MINORITY_GIVEN[s], len(sel))
        out[sel] = pd.Series(fam).str.cat(pd.Series(giv), sep=" ").to_numpy(object)
    return out


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """10-digit mobile numbers (None for people with no phone on record), unique."""
    prefix = _pick(rng, MOBILE_PREFIXES, n)
    body = rng.choice(10_000_000, size=n, replace=n > 10_000_000)
    numbers = pd.Series(prefix).str.cat(pd.Series(body).astype(str).str.zfill(7)).to_numpy(object)
    numbers[rng.random(n) < NO_PHONE_SHARE] = None
    return numbers


def village_names(rng: np.random.Generator, villages: pd.DataFrame) -> np.ndarray:
    """A name per village, unique within its commune."""
    n = len(villages)
    minority = villages["ethnic_language"].astype(str).to_numpy() != "Vietnamese"
    pairs = np.array([f"{a} {b}" for a in VILLAGE_FIRST for b in VILLAGE_SECOND], dtype=object)
    kinh_names = np.array(KINH_VILLAGE, dtype=object)
    out = np.empty(n, dtype=object)
    for _, idx in villages.groupby("commune", sort=False).indices.items():
        m = idx[minority[idx]]
        k = idx[~minority[idx]]
        out[m] = ["Thôn " + s for s in pairs[rng.permutation(len(pairs))[: len(m)]]] if len(m) else []
        if len(k) <= len(kinh_names):
            out[k] = kinh_names[rng.permutation(len(kinh_names))[: len(k)]]
        else:  # very large communes: number the hamlets
            out[k] = [f"Thôn {i + 1}" for i in range(len(k))]
    return out


def addresses(rng: np.random.Generator, n: int) -> np.ndarray:
    """'Tổ 3, nhà số 27': the hamlet group and house within the village."""
    group = pd.Series(rng.integers(1, 7, n)).astype(str)
    house = pd.Series(rng.integers(1, 90, n)).astype(str)
    return ("Tổ " + group + ", nhà số " + house).to_numpy(object)


def add_people_and_places(tables: Tables, seed: int) -> Tables:
    """The tables with Vietnamese place names, village names, full names, phones, addresses."""
    rng = np.random.default_rng([int(seed), 0x6E616D65])  # its own stream: the run is unchanged
    villages = tables.villages.copy()
    communes = {c: vietnamese_place(c) for c in villages["commune"].unique()}
    districts = {d: vietnamese_place(d) for d in villages["district"].unique()}
    villages["commune"] = villages["commune"].map(communes).astype("str")
    villages["district"] = villages["district"].map(districts).astype("str")
    villages["village_name"] = pd.Series(village_names(rng, villages), dtype="str")
    disasters = tables.disasters.copy()
    if len(disasters):
        disasters["commune"] = disasters["commune"].map(lambda c: communes.get(c, vietnamese_place(c))).astype("str")
    people = tables.participants.copy()
    n = len(people)
    people["full_name"] = pd.Series(full_names(rng, people["ethnicity"].astype(str).to_numpy(),
                                               people["sex"].astype(str).to_numpy()), dtype="str")
    phone = phones(rng, n)
    people["phone"] = pd.Series(phone, dtype="str").where(pd.notna(phone), None)
    people["address"] = pd.Series(addresses(rng, n), dtype="str")
    return tables.replace(villages=villages, disasters=disasters, participants=people)
