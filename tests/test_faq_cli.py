"""The `ask`, `import-faq` and `export-faq` command-line tools."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "BOT_DB": str(tmp_path / "cli.db")}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)


def test_ask_answers_the_protection_order_question(tmp_path: Path) -> None:
    done = run(tmp_path, "ask", "他打我了能申请保护令吗", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["decision"] == "answer"
    assert record["candidates"][0]["id"] == "protection-order-apply"
    assert "依据" in record["answer"]


def test_ask_declines_off_topic_and_batch_keeps_order(tmp_path: Path) -> None:
    batch = tmp_path / "q.txt"
    batch.write_text("今天股票涨了吗\n两癌筛查在哪里做\n", encoding="utf-8")
    done = run(tmp_path, "ask", "--batch", str(batch), "--json")
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["question"] for r in records] == ["今天股票涨了吗", "两癌筛查在哪里做"]
    assert records[0]["decision"] == "decline" and "12348" in records[0]["answer"]
    assert records[1]["decision"] in ("answer", "suggest")
    assert run(tmp_path, "ask", "x", "--org", "不存在村").returncode == 1


def test_import_and_export_faq(tmp_path: Path) -> None:
    good = tmp_path / "kb.jsonl"
    good.write_text(json.dumps({"question": "村里腊八节有活动吗", "answer": "腊八那天村委会发腊八粥。"},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    done = run(tmp_path, "import-faq", str(good))
    assert done.returncode == 0 and "已导入 1 条问答" in done.stdout
    asked = json.loads(run(tmp_path, "ask", "腊八节村里有活动吗", "--json").stdout)
    assert "腊八粥" in asked["answer"]
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\n好问题,\n", encoding="utf-8")
    failed = run(tmp_path, "import-faq", str(bad))
    assert failed.returncode == 1 and "第 1 行" in failed.stderr
    out = tmp_path / "out.jsonl"
    exported = run(tmp_path, "export-faq", str(out))
    assert exported.returncode == 0
    ids = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert "protection-order-apply" in ids and len(ids) >= 61


def test_missing_files_and_bad_targets_are_clear_errors_not_tracebacks(tmp_path: Path) -> None:
    for args in (("ask", "--batch", str(tmp_path / "none.txt")),
                 ("import-faq", str(tmp_path / "none.csv")),
                 ("export-faq", str(tmp_path / "no-such-folder" / "out.xlsx"))):
        done = run(tmp_path, *args)
        assert done.returncode == 1, args
        assert "Traceback" not in done.stderr and "文件打不开或写不进去" in done.stderr, done.stderr
    wrong = run(tmp_path, "export-faq", str(tmp_path / "out.txt"))
    assert wrong.returncode == 2 and ".jsonl 或 .xlsx" in wrong.stderr
    assert not (tmp_path / "out.txt").exists()
