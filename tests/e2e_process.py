"""Start and stop the real `python -m bot run` process against the HTTP stand-in (e2e tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.botapi_stub import BotApiStub

ROOT = Path(__file__).resolve().parent.parent


def start_bot(stub: BotApiStub, db: Path, token: str, config: Path | None = None,
              ready: str = "getUpdates") -> subprocess.Popen[str]:
    """Start the bot on `db` and return once it calls `ready` (polling for updates, or setWebhook)."""
    env = {**os.environ, "TELEGRAM_TOKEN": token, "TELEGRAM_BASE_URL": stub.base_url, "BOT_DB": str(db)}
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
