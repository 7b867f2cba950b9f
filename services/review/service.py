"""`ReviewService`: the parts of 述职考评 the handlers use, each a typed attribute, so a call reads
`services.review.cycles.start(…)` and "go to definition" lands on the method itself."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services import fmt
from services.clock import Clock
from services.config import ReviewConfig
from services.review.ballot import Ballot
from services.review.common import ReviewContext
from services.review.cycle import Cycles, Rubrics
from services.review.notices import Notices
from services.review.results import Results, Scores
from services.review.work_reports import WorkReports
from storage.db import Database


class ReviewService:
    def __init__(self, db: Database, clock: Clock, tz: ZoneInfo, config: ReviewConfig) -> None:
        self.config = config
        self.ctx = ReviewContext(db, clock, tz, config, config.rubric())
        self.rubrics = Rubrics(self.ctx)  # /review_config
        self.ballot = Ballot(self.ctx)  # /rate and its buttons
        self.cycles = Cycles(self.ctx, self.ballot)  # /review_start, /review_status, /review_close
        self.work_reports = WorkReports(self.ctx)  # /report (述职报告)
        self.scores = Scores(self.ctx)  # /score, /adjust
        self.results = Results(self.ctx)  # the frozen tables: the chair's, /myreview, the CLI's export
        self.notices = Notices(self.ctx)  # `produce` in Services.producers, `next_due` in Services.wakeups

    def local(self, moment: datetime) -> fmt.Text:
        """A moment for a message: a nested text, rendered in the reader's language."""
        return self.ctx.local(moment)
