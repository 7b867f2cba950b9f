"""述职考评: the service the handlers use. A facade over the parts, one module per responsibility:

- review_common: the shared context, rights (chair / manager), finding cycles and participants
- review_cycle: start, status and progress, close (freeze the results, destroy the ballot key)
- review_reports: 述职报告, submitted, replaced, extended, read
- review_ballot: the anonymous democratic rating (HMAC ballot ids) and its privacy argument
- review_scores: the chair's scores and the adjustments
- review_activity: duty / training / ledger / task activity in the period
- review_results: computing the rows with review_scoring, reading frozen results
- review_rubric: an organisation's rubric; review_parse: reading what the chair types
- review_notices: the outbox messages and the producer for reminders
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from services.clock import Clock
from services.config import ReviewConfig
from services.review_activity import period_end
from services.review_ballot import Ballot
from services.review_common import ReviewContext
from services.review_cycle import Cycles
from services.review_notices import Reminders
from services.review_reports import Reports
from services.review_results import Results
from services.review_rubric import RubricSettings
from services.review_scores import Scores
from storage.db import Database


class ReviewService:
    def __init__(self, db: Database, clock: Clock, tz: ZoneInfo, config: ReviewConfig,
                 super_admins: frozenset[int]) -> None:
        self.db = db
        self.clock = clock
        self.tz = tz
        self.config = config  # bot.config.ReviewConfig
        self.super_admins = super_admins
        self.base_rubric = config.rubric()
        ctx = ReviewContext(db, clock, tz, config, self.base_rubric)
        self.local = ctx.local
        self.period_end = period_end

        rubrics = RubricSettings(ctx)
        self.rubric = rubrics.rubric
        self.set_rubric = rubrics.set_rubric

        votes = Ballot(ctx)
        self.colleagues = votes.colleagues
        self.rate = votes.rate
        self.ratee_by_name = votes.ratee_by_name

        cycles = Cycles(ctx, votes)
        self.start = cycles.start
        self.set_period = cycles.set_period
        self.current = cycles.current
        self.cycle = cycles.cycle
        self.status = cycles.status
        self.my_progress = cycles.my_progress
        self.close_check = cycles.close_check
        self.close = cycles.close

        reports = Reports(ctx)
        self.submit_report = reports.submit_report
        self.report_of = reports.report_of

        scores = Scores(ctx)
        self.score = scores.score
        self.adjust = scores.adjust

        results = Results(ctx)
        self.results = results.results
        self.export = results.export
        self.my_result = results.my_result

        reminders = Reminders(ctx)
        self.produce = reminders.produce  # registered in Services.producers
        self.next_due = reminders.next_due  # and its wake-up

    def today(self) -> date:
        return self.clock.now().astimezone(self.tz).date()
