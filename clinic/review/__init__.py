"""What reads across sessions: a patient's history and trends, today's board, the FHIR and CSV
exports. It sits above patients and sessions and writes nothing but the audit events of views."""
