"""述职考评 in the chat, one module per part (like services/review/): common (private chats only, which
organisation, reply helpers), cycle (/start review, /review_start, /review_status, /review_close,
/review_config), ballot (/rate and its buttons), work_reports (/report, 述职报告), results (/score,
/adjust, /myreview, the results table and the xlsx).

Used in a group, every review command only answers with a button that opens the private chat:
no score, rating or report is ever posted in a group. Below: the handlers bot/app.py registers.
"""

from handlers.review.ballot import RATE_CALLBACK, rate, rate_button
from handlers.review.cycle import (
    CLOSE_CALLBACK,
    close_button,
    review_close,
    review_config,
    review_start,
    review_status,
    start_review,
)
from handlers.review.results import adjust, myreview, score
from handlers.review.work_reports import report

__all__ = [
    "CLOSE_CALLBACK", "RATE_CALLBACK", "adjust", "close_button", "myreview", "rate", "rate_button", "report",
    "review_close", "review_config", "review_start", "review_status", "score", "start_review",
]
