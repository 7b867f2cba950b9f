"""述职考评 (the yearly review), one module per responsibility:

- common: the shared context, rights (chair / manager), finding cycles, participants and the activity
  period, the rubric in force for an organisation
- cycle: start, status and progress, close (freeze the results, destroy the ballot key); the
  organisation's rubric (`Rubrics`)
- ballot: the anonymous democratic rating (HMAC ballot ids) and its privacy argument
- work_reports: 述职报告, submitted, replaced, extended, read
- results: the chair's scores and adjustments, the activity in the period, the rows computed with
  the scoring, the frozen tables (for the chair, the member and the CLI's export)
- notices: the outbox messages and the producer for reminders
- scoring: pure, exact arithmetic (components, weights, grades, subsidy) and reading what the chair types
- service: `ReviewService`, the parts above as typed attributes for the handlers

Nothing is imported here, so `services.review.scoring` loads without the rest.
"""
