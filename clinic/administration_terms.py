"""The words an order, a consent and an administration share: the route and the method.

Kept below the features (layer 0) because consents (patients), orders and the chart each name a
route: a consent covers one, an order states one, an administration records the one used.
"""

from __future__ import annotations

import enum


class Route(enum.StrEnum):
    IV = "iv"
    IM = "im"
    INTRANASAL = "intranasal"
    SUBCUTANEOUS = "subcutaneous"
    ORAL = "oral"
    SUBLINGUAL = "sublingual"

    @property
    def label(self) -> str:
        return {
            "iv": "Intravenous (IV)",
            "im": "Intramuscular (IM)",
            "intranasal": "Intranasal (IN)",
            "subcutaneous": "Subcutaneous (SC)",
            "oral": "Oral (PO)",
            "sublingual": "Sublingual (SL)",
        }[self.value]


class Method(enum.StrEnum):
    INFUSION = "infusion"
    BOLUS = "bolus"
    INJECTION = "injection"
    SPRAY = "spray"
    TABLET = "tablet"
