"""Outcome scales: PHQ-9 and pain NRS. Pure functions, no database, no request.

The PHQ-9 (Kroenke, Spitzer & Williams, 2001) is in the public domain; its item texts and answer
labels are reproduced as published so the form reads like the paper one patients know.
"""

from __future__ import annotations

from collections.abc import Sequence

PHQ9_STEM = (
    "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
)

PHQ9_ITEMS: tuple[str, ...] = (
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself — or that you are a failure or have let yourself or your family"
    " down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed? Or the opposite — being"
    " so fidgety or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead or of hurting yourself in some way",
)

PHQ9_ANSWERS: tuple[tuple[int, str], ...] = (
    (0, "Not at all"),
    (1, "Several days"),
    (2, "More than half the days"),
    (3, "Nearly every day"),
)

# (lowest total of the band, label); a total belongs to the last band whose floor it reaches.
PHQ9_BANDS: tuple[tuple[int, str], ...] = (
    (0, "minimal"),
    (5, "mild"),
    (10, "moderate"),
    (15, "moderately severe"),
    (20, "severe"),
)

PHQ9_MAX_TOTAL = 27
PAIN_MIN, PAIN_MAX = 0, 10


def _check_phq9_answers(answers: Sequence[int]) -> None:
    if len(answers) != len(PHQ9_ITEMS):
        raise ValueError(f"PHQ-9 has {len(PHQ9_ITEMS)} items; got {len(answers)} answers.")
    for answer in answers:
        # bool is an int in Python; an answer of True is a bug upstream, not a 1.
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer <= 3:
            raise ValueError("Each PHQ-9 answer is 0, 1, 2 or 3.")


def phq9_total(answers: Sequence[int]) -> int:
    _check_phq9_answers(answers)
    return sum(answers)


def phq9_band(total: int) -> str:
    if not 0 <= total <= PHQ9_MAX_TOTAL:
        raise ValueError(f"A PHQ-9 total is 0 to {PHQ9_MAX_TOTAL}.")
    label = PHQ9_BANDS[0][1]
    for floor, band in PHQ9_BANDS:
        if total >= floor:
            label = band
    return label


def phq9_risk_flag(answers: Sequence[int]) -> bool:
    """Item 9 (thoughts of self-harm) above 0 must be seen, whatever the total."""
    _check_phq9_answers(answers)
    return answers[8] > 0


def check_pain_score(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not PAIN_MIN <= value <= PAIN_MAX:
        raise ValueError(f"Pain is scored {PAIN_MIN} (no pain) to {PAIN_MAX} (worst imaginable).")
    return value
