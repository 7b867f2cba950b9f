"""An organisation's 述职考评 rubric: the deployment's defaults with the organisation's overrides
(weights, grades, subsidy base), read, changed by the chair, or reset."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import aiosqlite

from services.errors import Refusal
from services.review_common import ReviewContext, require_chair
from services.review_scoring import Grade, Rubric, RubricError, dec
from services.roster import Actor
from storage import audit, reviews

log = logging.getLogger(__name__)


def rubric_error(exc: RubricError) -> Refusal:
    return Refusal(f"review_config.err_{exc.code}", **{k: str(v) for k, v in exc.params.items()})


def merge_rubric(base: Rubric, override: Mapping[str, Any]) -> Rubric:
    """The deployment rubric with an organisation's overrides (weights, grades, subsidy_base)."""
    found = base
    if "weights" in override:
        found = replace(found, weights={k: dec(v) for k, v in override["weights"].items()})
    if "grades" in override:
        found = replace(found, grades=tuple(Grade(str(g["label"]), dec(g["min"]), dec(g["coefficient"]))
                                            for g in override["grades"]))
    if "subsidy_base" in override:
        found = replace(found, subsidy_base=dec(override["subsidy_base"]))
    return found


async def rubric_for(ctx: ReviewContext, conn: aiosqlite.Connection, org_id: int) -> Rubric:
    """The rubric in force for the organisation (the defaults if what is stored is invalid)."""
    override = await reviews.rubric_override(conn, org_id)
    try:
        return merge_rubric(ctx.base_rubric, override).validate()
    except (RubricError, KeyError, TypeError, ValueError):
        log.warning("org %s: stored review rubric is invalid; using the defaults", org_id)
        return ctx.base_rubric


class RubricSettings:
    def __init__(self, ctx: ReviewContext) -> None:
        self.ctx = ctx

    async def rubric(self, org_id: int) -> tuple[Rubric, bool]:
        """The organisation's rubric and whether it has its own overrides."""
        async with self.ctx.db.read() as conn:
            override = await reviews.rubric_override(conn, org_id)
            return await rubric_for(self.ctx, conn, org_id), bool(override)

    async def set_rubric(self, actor: Actor, org_id: int, part: str, value: Any) -> Rubric:
        """Override weights / grades / subsidy_base for this organisation, or reset ("reset")."""
        now = self.ctx.clock.now()
        async with self.ctx.db.transaction() as conn:
            await require_chair(conn, actor, org_id)
            override = await reviews.rubric_override(conn, org_id)
            if part == "reset":
                override = {}
            elif part == "weights":
                override["weights"] = {k: str(v) for k, v in value.items()}
            elif part == "grades":
                override["grades"] = [{"label": g.label, "min": str(g.minimum), "coefficient": str(g.coefficient)}
                                      for g in value]
            elif part == "subsidy_base":
                override["subsidy_base"] = str(value)
            else:
                raise ValueError(part)
            try:
                rubric = merge_rubric(self.ctx.base_rubric, override).validate()
            except RubricError as exc:
                raise rubric_error(exc) from exc
            await reviews.set_rubric_override(conn, org_id, override, actor.user_id, now)
            await audit.record(conn, org_id, actor.user_id, "review.config", now, part=part, rubric=override)
        return rubric
