"""What makes and shows the results: /score and /adjust (the chair's part), /myreview (her own
result); the rubric as text, the chair's results table, one member's lines, and the xlsx (Chinese
headers, a totals row for the subsidies, a second sheet with the rubric) also used by the CLI's export."""

from __future__ import annotations

import html
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from handlers.commands import handles
from handlers.common import BotContext, Req, command, reply
from handlers.i18n import Raw, in_script, t
from handlers.review.common import args_text, here, member_here, progress_lines, target_of
from services.exports import append_row
from services.review.results import ClosedCycle, ResultRow
from services.review.scoring import COMPONENTS, Rubric, parse_delta, parse_score, show
from services.roster import Target

RUBRIC_COMPONENT_KEYS = {k: f"review.component_{k}" for k in COMPONENTS}


def _num(text: str) -> str:
    """A stored decimal for people: 1.0 → 1, 0.80 → 0.8, 1200.0 → 1200."""
    return f"{Decimal(text).normalize():f}"


def rubric_text(lang: str | None, org_name: str, rubric: Rubric, custom: bool) -> str:
    weights = "、".join(
        f"{t(lang, RUBRIC_COMPONENT_KEYS[k])} {_num(str(rubric.weights.get(k, 0)))}" for k in COMPONENTS
    )
    ratings = "、".join(f"{in_script(lang, r.label)} {_num(str(r.value))}" for r in rubric.ratings)
    grades = []
    for i, g in enumerate(rubric.grades):
        if i == len(rubric.grades) - 1:
            bound = f"&lt;{_num(str(rubric.grades[i - 1].minimum))}"
        else:
            bound = f"≥{_num(str(g.minimum))}"
        grades.append(f"{html.escape(in_script(lang, g.label), quote=False)} {bound} ×{_num(str(g.coefficient))}")

    return t(lang, "review_config.rubric", org=org_name,
             custom=t(lang, "review_config.custom" if custom else "review_config.default"), weights=weights,
             ratings=ratings, min_peer=rubric.min_peer_ratings, grades=Raw("、".join(grades)),
             base=_num(str(rubric.subsidy_base)))


def adjustment_items(items: Iterable[tuple[str, str]]) -> str:
    """Adjustments as `+5（reason）；-2（reason）`."""
    return "；".join(f"{delta}（{reason}）" for delta, reason in items)


def _rate(lang: str | None, pair: tuple[int, int] | None, key: str) -> str:
    return t(lang, key, a=pair[0], b=pair[1]) if pair else "—"


def result_lines(lang: str | None, row: ResultRow, rubric: Rubric, own: bool = False) -> list[str]:
    """The lines describing one member's result (her own view, or inside the chair's table)."""
    if row.removed:
        return [t(lang, "review_result.removed")]
    lines = [t(lang, "review_result.unrated") if row.unrated else
             t(lang, "review_result.total", total=row.total, grade=in_script(lang, row.grade or ""),
               subsidy=row.subsidy, coefficient=_num(row.coefficient or "0"))]
    duty = t(lang, "review_result.duty", value=row.duty, checked=row.checked, shifts=row.shifts) if row.duty else "—"
    training = (t(lang, "review_result.training", value=row.training, a=row.trainings[0], b=row.trainings[1])
                if row.training and row.trainings else "—")
    peer = t(lang, "review_result.peer", value=row.peer, n=row.peer_count) if row.peer else (
        t(lang, "review_result.peer_few", n=row.peer_count) if row.peer_count else "—")
    lines.append(t(lang, "review_result.components", chair=row.chair or "—", peer=peer, duty=duty,
                   training=training))
    lines.append(t(lang, "review_result.activity", ledger=row.ledger,
                   tasks=_rate(lang, row.tasks, "review_result.tasks")))
    if row.adjustments:
        lines.append(t(lang, "review_result.adjustments", total=row.adjustment_total,
                       items=adjustment_items(row.adjustments)))
    if row.chair_comment:
        lines.append(t(lang, "review_result.comment", comment=row.chair_comment))
    # the weights used for her (shifted where a component had no data; the rubric's if none stored):
    # in her own view and in the chair's table alike
    if row.unrated:
        return lines
    used = {k: str(v) for k, v in (row.weights or rubric.weights).items()}
    shown = "、".join(f"{t(lang, RUBRIC_COMPONENT_KEYS[k])} {_num(used.get(k, '0'))}" for k in COMPONENTS
                     if Decimal(used.get(k, "0")) > 0)
    lines.append(t(lang, "review_result.weights", weights=shown) if shown else t(lang, "review_result.weights_none"))
    return lines


def results_text(lang: str | None, org_name: str, closed: ClosedCycle) -> str:
    lines = [t(lang, "review_result.table_header", org=org_name, cycle=closed.cycle.name,
               count=sum(1 for r in closed.rows if not r.removed))]
    for i, row in enumerate(closed.rows, 1):
        lines.append("")
        lines.append(t(lang, "review_result.table_name", index=i, name=row.name, role=t(lang, f"roles.{row.role}")))
        lines.extend("   " + line for line in result_lines(lang, row, closed.rubric))
    lines.append("")
    lines.append(t(lang, "review_result.subsidy_total", total=closed.subsidy_total))
    lines.append(t(lang, "review_result.rule", weights="、".join(
        f"{t(lang, RUBRIC_COMPONENT_KEYS[k])} {_num(str(closed.rubric.weights.get(k, 0)))}" for k in COMPONENTS)))
    return "\n".join(lines)


def _dec(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def review_xlsx(lang: str | None, org_name: str, closed: ClosedCycle) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = t(lang, "review_xlsx.sheet")[:31]
    keys = ("no", "name", "role", "chair", "peer", "peer_count", "duty", "shifts", "training", "trainings",
            "ledger", "tasks", "adjust", "adjust_reasons", "total", "grade", "coefficient", "subsidy", "comment")
    headers = [t(lang, f"review_xlsx.col_{k}") for k in keys]
    append_row(sheet, [t(lang, "review_xlsx.title", org=org_name, cycle=closed.cycle.name)])
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True, size=13)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for i, r in enumerate(closed.rows, 1):
        no_total = (t(lang, "review_xlsx.removed") if r.removed
                    else t(lang, "review_xlsx.unrated") if r.unrated else None)
        append_row(sheet, [
            i, r.name, t(lang, f"roles.{r.role}"), _dec(r.chair), _dec(r.peer), r.peer_count, _dec(r.duty),
            f"{r.checked}/{r.shifts}" if r.shifts else "",
            _dec(r.training), f"{r.trainings[0]}/{r.trainings[1]}" if r.trainings else "",
            r.ledger, f"{r.tasks[0]}/{r.tasks[1]}" if r.tasks else "",
            _dec(r.adjustment_total) if r.adjustments else None,
            adjustment_items(r.adjustments),
            _dec(r.total) if r.total else no_total, in_script(lang, r.grade or "") or None, _dec(r.coefficient),
            _dec(r.subsidy), r.chair_comment,
        ])
    subsidy_col = keys.index("subsidy") + 1
    total_row: list[Any] = [None] * len(keys)
    total_row[1] = t(lang, "review_xlsx.totals", count=sum(1 for r in closed.rows if not r.removed))
    total_row[subsidy_col - 1] = closed.subsidy_total
    sheet.append(total_row)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    widths = [5, 10, 7, 9, 9, 8, 10, 9, 10, 9, 8, 12, 7, 30, 7, 9, 8, 12, 24]
    for i, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    for row_cells in sheet.iter_rows(min_row=3):
        for cell in row_cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if cell.column in (4, 5, 7, 9, 15):
                cell.number_format = "0.0"
            elif cell.column == subsidy_col:
                cell.number_format = "0.00"
    sheet.freeze_panes = "C3"

    rules = workbook.create_sheet(t(lang, "review_xlsx.rubric_sheet")[:31])
    rubric = closed.rubric
    rules.append([t(lang, "review_xlsx.rubric_item"), t(lang, "review_xlsx.rubric_value")])
    for cell in rules[1]:
        cell.font = Font(bold=True)
    for k in COMPONENTS:
        rules.append([t(lang, "review_xlsx.rubric_weight", name=t(lang, RUBRIC_COMPONENT_KEYS[k])),
                      rubric.weights.get(k, Decimal(0))])
    for option in rubric.ratings:
        rules.append([t(lang, "review_xlsx.rubric_rating", label=in_script(lang, option.label)), option.value])
    for g in rubric.grades:
        rules.append([t(lang, "review_xlsx.rubric_grade", label=in_script(lang, g.label), min=show(g.minimum, 1)),
                      g.coefficient])
    rules.append([t(lang, "review_xlsx.rubric_base"), rubric.subsidy_base])
    rules.append([t(lang, "review_xlsx.rubric_min_peer"), rubric.min_peer_ratings])
    rules.append([t(lang, "review_xlsx.rubric_note")])
    rules.column_dimensions["A"].width = 40
    rules.column_dimensions["B"].width = 14
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- /score and /adjust --------------------------------------------------------------------------


async def _target_value_words(req: Req, usage: str, least: int) -> tuple[Target, str, str] | None:
    """`<who> <value> [words…]` with at least `least` words after her name (else the usage is shown)."""
    parsed = target_of(req)
    if parsed.target is None or len(parsed.rest) < least:
        await reply(req, req.t(usage))
        return None
    return parsed.target, parsed.rest[0], " ".join(parsed.rest[1:])


@handles("score")
@command
async def score(req: Req, context: BotContext) -> None:
    org = await here(req, context)
    if org is None:
        return
    found = await _target_value_words(req, "score.usage", 1)
    if found is None:
        return
    target, word, comment = found
    value = parse_score(word)
    who, replaced = await req.services.review.scores.score(req.actor, org.id, target, value, comment)
    lines = [req.t("score.replaced" if replaced else "score.done", name=who.display_name, score=str(value))]
    if comment:
        lines.append(req.t("score.comment", comment=comment))
    await reply(req, "\n".join(lines))


@handles("adjust")
@command
async def adjust(req: Req, context: BotContext) -> None:
    org = await here(req, context)
    if org is None:
        return
    found = await _target_value_words(req, "adjust.usage", 2)
    if found is None:
        return
    target, word, reason = found
    delta = parse_delta(word)
    who, items = await req.services.review.scores.adjust(req.actor, org.id, target, delta, reason)
    lines = [req.t("adjust.done", name=who.display_name, delta=items[-1].delta, reason=reason)]
    lines.append(req.t("adjust.all", items=adjustment_items((a.delta, a.reason) for a in items)))
    await reply(req, "\n".join(lines))


# --- /myreview -----------------------------------------------------------------------------------


@handles("myreview")
@command
async def myreview(req: Req, context: BotContext) -> None:
    found = await member_here(req, context)
    if found is None:
        return
    _, me = found
    if args_text(req):
        await reply(req, req.t("myreview.own_only"))
        return
    svc = req.services.review
    lines: list[str] = []
    cycle = await svc.cycles.current(me.org_id)
    if cycle is not None and cycle.is_open:
        lines.extend(await progress_lines(
            req, me, req.t("myreview.open", cycle=cycle.name, deadline=svc.local(cycle.deadline))))
    mine = await svc.results.mine(me)
    if mine is not None:
        closed, row = mine
        if lines:
            lines.append("")
        lines.append(req.t("myreview.header", cycle=closed.cycle.name))
        lines.extend(result_lines(req.lang, row, closed.rubric, own=True))
    if not lines:
        lines.append(req.t("myreview.none"))
    await reply(req, "\n".join(lines))
