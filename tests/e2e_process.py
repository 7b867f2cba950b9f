"""Start and stop the real `python -m bot run` process against the HTTP stand-in (e2e tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.botapi_stub import BotApiStub

ROOT = Path(__file__).resolve().parent.parent


def start_bot(stub: BotApiStub, db: Path | str, token: str, config: Path | None = None,
              ready: str = "getUpdates") -> subprocess.Popen[str]:
    """Start the bot on `db` (a SQLite file, or a postgresql:// URL) and return once it calls `ready`
    (polling for updates, or setWebhook)."""
    where = {"BOT_DB": str(db)}
    if str(db).startswith("postgresql://"):  # the file path still places the sends journal and backups
        where = {"BOT_DATABASE_URL": str(db), "BOT_DB": str(Path(tempfile.mkdtemp(prefix="zw-e2e-")) / "zhiwei.db")}
    env = {**os.environ, "TELEGRAM_TOKEN": token, "TELEGRAM_BASE_URL": stub.base_url, **where}
    args = [sys.executable, "-m", "bot", "run", *(["--config", str(config)] if config else [])]
    mark = len(stub.calls)
    proc = subprocess.Popen(args, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    stub.wait_for(lambda c: c.method == ready, timeout=30, after=mark)
    return proc


def stop_bot(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, as a service manager would; the bot must exit cleanly."""
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


def today_clear_of_midnight(tz: str = "Asia/Shanghai", margin: timedelta = timedelta(minutes=3)) -> date:
    """Today's date in `tz`, first waiting for midnight to pass when it is less than `margin` away: a
    test that sets a 00:00 hand-off on today's date and then asks who is on duty must not straddle it."""
    now = datetime.now(ZoneInfo(tz))
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    if midnight - now < margin:
        time.sleep((midnight - now).total_seconds() + 1)
    return datetime.now(ZoneInfo(tz)).date()
