"""A prediction as an HL7 FHIR R5 ``DiagnosticReport`` with its ``Observation``.

The report is coded (:mod:`.terminology`): the study with LOINC, the finding with SNOMED
CT, the conclusion with ICD-10, its display text in the asked language. It is validated by
``fhir.resources`` before it is returned, so a report that the FHIR model refuses raises
here instead of leaving the service.
"""

from __future__ import annotations

import datetime as dt

from .errors import ServiceError
from .terminology import check_language, code, label

__all__ = ["check_language", "diagnostic_report"]


def _coding(key: str, language: str = "en") -> dict:
    entry = code(key)
    try:
        display = label(key, language).text
    except ServiceError:
        display = entry.display
    return {"system": entry.system, "code": entry.code, "display": display}


def diagnostic_report(
    score: float,
    threshold: float,
    language: str = "en",
    *,
    device: str = "pneumo-course model",
    fingerprint: str = "",
    issued: dt.datetime | None = None,
) -> dict:
    """Return a validated FHIR R5 DiagnosticReport (a JSON-ready dict) for one score.

    Args:
        score: the model's pneumonia score in [0, 1].
        threshold: the validated decision threshold.
        language: language of the display texts (:data:`.terminology.LANGUAGES`).
        device: the model's name and version, recorded as the observation's device.
        fingerprint: the model's fingerprint, recorded in the observation's note.
        issued: when the report was made (default: now, UTC).

    Raises:
        TerminologyError: an unknown language.
    """
    from fhir.resources.diagnosticreport import DiagnosticReport

    check_language(language)
    positive = score >= threshold
    finding = "pneumonia suspected" if positive else "no pneumonia suspected"
    issued = (issued or dt.datetime.now(dt.timezone.utc)).isoformat()
    observation = {
        "resourceType": "Observation",
        "id": "finding",
        "status": "preliminary",
        "code": {"coding": [_coding("finding")], "text": code("finding").display},
        "valueCodeableConcept": {"coding": [_coding("present" if positive else "absent")]},
        "component": [
            {
                "code": {"text": "AI pneumonia score (0-1)"},
                "valueQuantity": {"value": round(float(score), 6), "unit": "1"},
            },
            {
                "code": {"text": "decision threshold (validation)"},
                "valueQuantity": {"value": round(float(threshold), 6), "unit": "1"},
            },
        ],
        "device": {"display": device},
        "note": [{"text": f"model fingerprint {fingerprint}; not a medical device"}],
    }
    report = {
        "resourceType": "DiagnosticReport",
        "status": "preliminary",
        "language": language,
        "contained": [observation],
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                        "code": "RAD",
                        "display": "Radiology",
                    }
                ]
            }
        ],
        "code": {"coding": [_coding("study")], "text": code("study").display},
        "issued": issued,
        "result": [{"reference": "#finding"}],
        "conclusion": f"AI screening: {finding} (preliminary, for a radiologist's review)",
    }
    if positive:
        report["conclusionCode"] = [
            {
                "coding": [_coding("diagnosis", language)],
                "text": label("diagnosis", language).text,
            }
        ]
    return DiagnosticReport.model_validate(report).model_dump(mode="json", exclude_none=True)
