"""/status (super admin, private): the facts of GET /health in Chinese."""

from __future__ import annotations

from datetime import timedelta

from handlers.commands import handles
from handlers.common import BotContext, Req, command, reply
from handlers.i18n import has
from services.errors import Refusal


def age(req: Req, span: timedelta) -> str:
    seconds = max(int(span.total_seconds()), 0)
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    if d:
        return req.t("status.age_days", d=d, h=h)
    if h:
        return req.t("status.age_hours", h=h, m=m)
    if m:
        return req.t("status.age_minutes", m=m)
    return req.t("status.age_seconds", s=s)


@handles("status")
@command
async def status(req: Req, context: BotContext) -> None:
    if not req.actor.is_super_admin:
        raise Refusal("status.not_super")
    if not req.private:  # what the deployment looks like is not for a group's eyes
        await reply(req, req.t("status.private_only"))
        return
    svc = req.services
    st = await svc.health.status()
    tz = svc.config.tz
    local = "%Y-%m-%d %H:%M"
    lines = [req.t("status.header", now=st.now.astimezone(tz).strftime(local))]
    oldest = st.oldest_unsent_age
    if st.state == "no_tick":
        lines.append(req.t("status.state_no_tick", age=age(req, st.now - (st.last_tick or st.started_at))))
    elif st.state == "stuck" and oldest is not None:
        lines.append(req.t("status.state_stuck", age=age(req, oldest)))
    else:
        lines.append(req.t("status.state_ok"))
    lines.append(req.t("status.uptime", age=age(req, st.uptime), started=st.started_at.astimezone(tz).strftime(local)))
    lines.append(req.t("status.last_tick", age=age(req, st.now - st.last_tick)) if st.last_tick
                 else req.t("status.last_tick_none"))
    lines.append(req.t("status.outbox", pending=st.pending))
    if oldest is not None:
        lines.append(req.t("status.oldest", age=age(req, oldest)))
    if st.errors:
        parts = [req.t("status.detail", outcome=req.t(f"status.outcome_{o}") if has(f"status.outcome_{o}") else o,
                       count=n) for o, n in sorted(st.errors.items(), key=lambda kv: -kv[1])]
        lines.append(req.t("status.errors", total=st.error_total, detail="，".join(parts)))
    else:
        lines.append(req.t("status.errors_none"))
    if st.given_up:
        lines.append(req.t("status.given_up", count=st.given_up))
    if not st.backups_on:
        lines.append(req.t("status.backup_off"))
    elif st.backup_failed_at is not None:
        lines.append(req.t("status.backup_failing", when=st.backup_failed_at.astimezone(tz).strftime(local)))
    elif st.backup_ok_at is not None:
        lines.append(req.t("status.backup_ok", when=st.backup_ok_at.astimezone(tz).strftime(local)))
    else:
        lines.append(req.t("status.backup_none"))
    operator = svc.config.ops.operator_chat_id
    lines.append(req.t("status.operator", chat=operator) if operator else req.t("status.operator_none"))
    listen = svc.config.web.listen
    lines.append(req.t("status.web", listen=listen) if listen else req.t("status.web_none"))
    await reply(req, "\n".join(lines))
