"""Building blocks of every export: deterministic ids, codings, the clinic, payer and member resources,
periods, money and the Bundles that carry them.

Ids are UUIDv5 of what a resource is (run, clinic, member, measure…), so the same run exports the same ids,
and resources refer to each other by `urn:uuid:` full URLs inside their Bundle.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.logic.fhir_export.codes import (
    IDENTIFIER_TYPE_SYSTEM,
    NPI_SYSTEM,
    TIN_SYSTEM,
    Naming,
)
from shared.models.members import Clinic

Resource = dict[str, Any]

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/p4p-engine/fhir-export")


class ExportInputError(ValueError):
    """The exports were asked for something they cannot build (a naive timestamp, an unknown clinic or
    measure)."""


def resource_id(*parts: object) -> str:
    """A FHIR id for what the parts name: the same parts give the same id, in every run."""
    return str(uuid.uuid5(_NAMESPACE, "|".join(str(p) for p in parts)))


def full_url(rid: str) -> str:
    return f"urn:uuid:{rid}"


def reference(resource: Resource, **more: Any) -> dict[str, Any]:
    """A reference to a resource carried in the same Bundle (by its `urn:uuid:` full URL)."""
    return {"reference": full_url(resource["id"]), **more}


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def concept(*codings: dict[str, str], text: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"coding": list(codings)}
    if text:
        found["text"] = text
    return found


def timestamp(moment: datetime) -> str:
    """An instant as FHIR wants it: with its time zone (a naive time is refused, it would not be one)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ExportInputError("the export's timestamp must carry a time zone")
    return moment.isoformat()


def year_period(year: int) -> dict[str, str]:
    return {"start": date(year, 1, 1).isoformat(), "end": date(year, 12, 31).isoformat()}


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def gap_period(period: str) -> dict[str, str]:
    """The dates a gap's period string covers: its month, quarter or day, else its measurement year
    (`2026/HCC37`, `2026/visit-3` and `2026` are the year)."""
    if found := _MONTH.match(period):
        year, month = int(found[1]), int(found[2])
        return {"start": date(year, month, 1).isoformat(), "end": _month_end(year, month).isoformat()}
    if found := _QUARTER.match(period):
        year, quarter = int(found[1]), int(found[2])
        first, last = 3 * quarter - 2, 3 * quarter
        return {"start": date(year, first, 1).isoformat(), "end": _month_end(year, last).isoformat()}
    if found := _DAY.match(period):
        day = date(int(found[1]), int(found[2]), int(found[3])).isoformat()
        return {"start": day, "end": day}
    return year_period(int(period[:4]))


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def money(cents: int) -> dict[str, Any]:
    """USD Money to the cent: the JSON number's text is the exact amount (`12345` cents → `123.45`)."""
    return {"value": float(Decimal(cents) / 100), "currency": "USD"}


def clinic_organization(clinic: Clinic, naming: Naming) -> Resource:
    """The clinic as an Organization: its NPI, its TIN and the plan's clinic id, and its name."""
    return {
        "resourceType": "Organization",
        "id": resource_id("Organization", "clinic", clinic.clinic_id),
        "identifier": [
            {"use": "official", "system": NPI_SYSTEM, "value": clinic.npi},
            {
                "type": concept(coding(IDENTIFIER_TYPE_SYSTEM, "TAX", "Tax ID number")),
                "system": TIN_SYSTEM,
                "value": clinic.tin,
            },
            {"system": naming.system("clinic-id"), "value": clinic.clinic_id},
        ],
        "active": True,
        "name": clinic.clinic_name,
    }


def clinic_reference(organization: Resource) -> dict[str, Any]:
    """A reference to the clinic that names it by its NPI even where the Organization is not at hand."""
    npi = next(i for i in organization["identifier"] if i["system"] == NPI_SYSTEM)
    return reference(
        organization, identifier={"system": NPI_SYSTEM, "value": npi["value"]}, display=organization["name"]
    )


def payer_organization(payer: str, naming: Naming, name: str | None = None) -> Resource:
    """The plan that pays, as an Organization named by the ledger's payer id."""
    return {
        "resourceType": "Organization",
        "id": resource_id("Organization", "payer", payer),
        "identifier": [{"system": naming.system("payer-id"), "value": payer}],
        "active": True,
        "name": name or payer,
    }


def patient(member_id: str, naming: Naming) -> Resource:
    """A member as the clinic may see them: the plan's member id and nothing else (no name, no birth date)."""
    return {
        "resourceType": "Patient",
        "id": resource_id("Patient", member_id),
        "identifier": [{"system": naming.system("member-id"), "value": member_id}],
    }


def patient_reference(resource: Resource) -> dict[str, Any]:
    return reference(resource, identifier=dict(resource["identifier"][0]))


def bundle_entry(resource: Resource) -> dict[str, Any]:
    return {"fullUrl": full_url(resource["id"]), "resource": resource}


def collection(
    key: tuple[object, ...], resources: list[Resource], generated: datetime, naming: Naming
) -> Resource:
    """A collection Bundle of resources (one export file), identified by what it collects."""
    rid = resource_id("Bundle", *key)
    return {
        "resourceType": "Bundle",
        "id": rid,
        "identifier": {"system": naming.system("report"), "value": rid},
        "type": "collection",
        "timestamp": timestamp(generated),
        "entry": [bundle_entry(r) for r in resources],
    }
