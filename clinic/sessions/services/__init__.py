"""The rules of the chart, one module per section: plain functions that take the acting user and
plain values, enforce the invariants and write the audit event in the caller's transaction.

Every write locks the session row first (clinic/sessions/guards.py), so a signature that lands
between loading a form and posting it is seen and the write refused; a create then looks up the
form's one-time key (clinic/submissions.py), so a double tap stores one entry. Callers commit once.
"""
