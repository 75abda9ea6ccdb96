"""The scope a model is trained for and used in: a district, a province, or national.

Each district's lapse model is its own: a model trained on Hướng Hóa must not quietly
become A Lưới's champion. The scope is read from the data (the villages' districts and
provinces): one district -> that district; several districts of one province -> the
province; else national. A registered model keeps one champion per scope, under the
alias `champion--<scope slug>` (and `challenger--<slug>`), and scoring asks for the
champion of its own data's scope.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

KINDS = ("district", "province", "national")


@dataclass(frozen=True)
class Scope:
    kind: str  # district | province | national
    name: str  # the district's or province's name as the data writes it ("" for national)

    @property
    def slug(self) -> str:
        """ASCII, lower case, hyphens: fit for an MLflow alias ("district-a-luoi")."""
        if self.kind == "national":
            return "national"
        folded = unicodedata.normalize("NFKD", self.name.replace("Đ", "D").replace("đ", "d"))
        ascii_name = folded.encode("ascii", "ignore").decode()
        return f"{self.kind}-" + (re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "unnamed")

    def __str__(self) -> str:
        return "national" if self.kind == "national" else f"{self.kind} {self.name}"

    @property
    def key(self) -> str:
        """'district:A Luoi' / 'national': how the registry records it (`parse_scope` reads it)."""
        return "national" if self.kind == "national" else f"{self.kind}:{self.name}"

    def alias(self, role: str) -> str:
        """The registry alias of `role` (champion / challenger) in this scope."""
        return f"{role}--{self.slug}"


def data_scope(tables) -> Scope:
    """The scope of a data folder (its villages' districts and provinces)."""
    v = tables.villages
    districts = sorted(set(v["district"].astype(str)))
    provinces = sorted(set(v["province"].astype(str)))
    if len(districts) == 1:
        return Scope("district", districts[0])
    if len(provinces) == 1:
        return Scope("province", provinces[0])
    return Scope("national", "")


def parse_scope(text: str) -> Scope:
    """'district:A Luoi', 'province:Quang Tri' or 'national'."""
    from dropout.errors import InputError

    text = str(text).strip()
    if text == "national":
        return Scope("national", "")
    kind, sep, name = text.partition(":")
    if not sep or kind not in ("district", "province") or not name.strip():
        raise InputError(f"scope {text!r}: write district:NAME, province:NAME or national")
    return Scope(kind, name.strip())
