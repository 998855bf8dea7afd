"""The chart's forms, one module per section. Every create form carries a one-time key
(clinic/submissions.py), so a double tap or a retry stores one entry."""
