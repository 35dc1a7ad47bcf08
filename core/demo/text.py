"""The words of the demo world: titles, block reasons, workers, reviewers, hostile strings.

Realistic first (what agents actually get stuck on), hostile second: a few percent of the
texts carry markup, terminal escapes, bidi overrides, zero-width characters, wide and
right-to-left scripts, emoji or a reason over 10,000 characters, so every screen that shows
them is exercised. No text contains NUL or anything token-like (storage would refuse or
redact it).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

PROJECTS = ("billing-service", "docs-site", "ml-pipeline", "mobile-app", "infra", "数据平台")
WORKERS = (
    *(f"agent-{n:02d}" for n in range(1, 25)),
    "ci-runner-3",
    "ci-runner-7",
    "nightly-batch",
    "claude-worker-4",
)
PRODUCERS = ("scheduler", "ci-bot", "triage-bot", "release-train", "dana")
REVIEWERS = ("alice", "bob", "chen", "dana", "eve-oncall")

HOSTILE_WORKERS = (
    "agent-\x1b[31mred\x1b[0m",
    "[@click=app.quit]agent",
    "代理-七号",
    "عامل-٣",
    "agent\u202e99",
)

_THINGS = (
    "refund rounding",
    "retry storm",
    "cache stampede",
    "timezone bug",
    "memory leak",
    "N+1 query",
    "stale index",
    "race in the scheduler",
    "broken pagination",
)
_MODULES = (
    "payments/refunds.py",
    "api/routes.py",
    "etl/loader.py",
    "auth/session.ts",
    "app/src/cart.kt",
    "terraform/vpc.tf",
    "docs/guide/install.md",
)
_PACKAGES = ("django", "numpy", "openssl", "react-native", "terraform-aws", "pydantic")
_LANGS = ("German", "Japanese", "Arabic", "Brazilian Portuguese", "Hebrew")
_TESTS = (
    "test_refund_partial",
    "test_login_redirect",
    "test_etl_idempotent",
    "test_cart_totals",
    "test_vpc_peering",
    "test_webhook_signature",
)
_APIS = ("GitHub", "Stripe", "OpenAI", "Slack", "PagerDuty", "Twilio")

_TITLES = (
    "Fix the {thing} in {module}",
    "Upgrade {package} to the next minor release",
    "Write release notes for v{major}.{minor}",
    "Backfill invoices for {month}",
    "Translate the onboarding emails to {lang}",
    "Triage flaky {test}",
    "Add retries to the {api} client",
    "Refactor error handling in {module}",
)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August")

_REASONS = (
    "missing credentials: AWS_SECRET_ACCESS_KEY is not set for the staging deploy",
    "missing credentials: the {api} token lacks the scope needed to push to {branch}",
    "missing credentials: the database password in vault path secret/{project} has expired",
    "flaky test needs human judgment: {test} failed 2 of 5 reruns; real regression or noise?",
    "flaky test needs human judgment: {test} passes locally but times out on the CI runner",
    "ambiguous spec: issue #{issue} says 'round half up' but the tests expect banker's rounding",
    "ambiguous spec: should deleted users keep their comments? The ticket says both",
    "merge conflict in {module} with main ({hunks} hunks); resolving needs a product decision",
    "rate limited by the {api} API (429, retry-after {seconds} s); the daily quota is used up",
    "needs approval: migration {issue}_drop_legacy drops a column on a table with {rows} rows",
    "external dependency down: {api} returns 503 since the last deploy window",
    "license check: the new dependency {package}-compat is AGPL-3.0; legal must approve",
    "human confirmation required before sending {rows} emails to customers",
    "disk quota exceeded on the build runner while writing artifacts for {project}",
    "missing receipts: the test report was not uploaded before the run finished",
    "cannot reproduce: {test} only fails with production data, which agents may not read",
)

HOSTILE_REASONS = (
    "[bold red]URGENT[/] approve me [link=https://evil.example]here[/link]",
    "[@click=app.quit]Click to continue[/] — markup must print literally",
    "tests failed: \x1b[31mFAILED\x1b[0m test_refund_partial (3 of 412)",
    "\x1b]0;pwned\x07window title changed, then \x1b[2J\x1b[H the screen cleared",
    "review the file invoice_\u202efdp.exe\u202c before merging (bidi override)",
    "需要人工审核：数据库迁移脚本与生产环境的表结构冲突，请确认是否继续执行。",  # noqa: RUF001
    "مطلوب مراجعة بشرية: ملف الإعدادات غير صالح ويحتاج إلى موافقة",
    "בקשה לאישור ידני: שינוי בתצורת הייצור דורש חתימה",
    "deploy blocked 🚧🔥 waiting on 👩\u200d💻 sign-off ✅ before Friday 🎉",
    "zero\u200bwidth\u200bspaces, a soft\u00adhyphen and a BOM\ufeff hide here",
    "line one of the log\nline two\r\nline three\twith a tab",
    "C1 control \x9b31m here and DEL \x7f there",
    "tag smuggling: ok\U000e0069\U000e0067\U000e006e\U000e006f\U000e0072\U000e0065",
)

FAILURES = (
    "tests failed: 3 of 412 (see junit.xml)",
    "build failed: type error in api/routes.py line 88",
    "timeout after 900 s waiting for the staging environment",
    "agent gave up: the task needs access it does not have",
    "lint failed: 17 new warnings",
)
REVIEW_NOTES = (
    "credentials added to the vault; try again",
    "spec clarified in the issue: use banker's rounding",
    "rerun after the upstream fix landed",
    "not worth automating; closing",
    "duplicate of another task",
    "quota reset at midnight UTC",
)
RESULTS = ("all checks green", "PR opened", "report uploaded", "3 files changed", "no-op: done")


class _Slots(dict):
    """Template values drawn only when a template uses them (keeps 100k titles cheap)."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng

    def __missing__(self, key: str) -> object:
        rng = self.rng
        draw: dict[str, Sequence[object]] = {
            "thing": _THINGS,
            "module": _MODULES,
            "package": _PACKAGES,
            "lang": _LANGS,
            "test": _TESTS,
            "api": _APIS,
            "month": _MONTHS,
            "branch": ("main", "release/2.4", "hotfix/refunds"),
            "project": PROJECTS[:5],
            "seconds": (60, 300, 3600),
        }
        if key in draw:
            value: object = rng.choice(draw[key])
        elif key == "rows":
            value = f"{rng.randrange(1, 900) * 1000:,}"
        else:
            low, high = {"major": (1, 6), "minor": (0, 20), "issue": (100, 9999), "hunks": (2, 9)}[
                key
            ]
            value = rng.randrange(low, high)
        self[key] = value
        return value


def _fill(template: str, rng: random.Random) -> str:
    return template.format_map(_Slots(rng))


HOSTILE_TITLES = (
    "[bold]x[/] Fix the refund rounding",
    "\x1b[1mUpgrade django\x1b[0m to the next minor release",
    "修复支付退款的舍入错误",
    "تحديث دليل التثبيت",
    "🚀 Ship the launch page",
)


class Texts:
    """Draws titles, reasons and workers; the hostile ones come first, once each.

    Every demo of a few dozen runs therefore carries each hostile string (and one reason
    over 10,000 characters) at least once; after that they recur at a low rate.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.titles = list(HOSTILE_TITLES)
        self.reasons = [long_reason(rng), *HOSTILE_REASONS]
        self.workers = list(HOSTILE_WORKERS)

    def title(self) -> str:
        if self.titles:
            return self.titles.pop(0)
        if self.rng.random() < 0.02:
            return self.rng.choice(HOSTILE_TITLES)
        return _fill(self.rng.choice(_TITLES), self.rng)

    def block_reason(self) -> str:
        if self.reasons:
            return self.reasons.pop(0)
        roll = self.rng.random()
        if roll < 0.003:
            return long_reason(self.rng)
        if roll < 0.05:
            return self.rng.choice(HOSTILE_REASONS)
        return _fill(self.rng.choice(_REASONS), self.rng)

    def worker(self) -> str:
        if self.workers:
            return self.workers.pop(0)
        if self.rng.random() < 0.02:
            return self.rng.choice(HOSTILE_WORKERS)
        return self.rng.choice(WORKERS)


def long_reason(rng: random.Random) -> str:
    """A pasted log: well over 10,000 characters, as agents do paste them."""
    frames = [
        f'  File "/srv/app/{rng.choice(_MODULES)}", line {rng.randrange(10, 900)}, in handler\n'
        f"    result = process(batch[{n}])"
        for n in range(160)
    ]
    head = "worker crashed and cannot continue without a human; full traceback follows\n"
    return head + "Traceback (most recent call last):\n" + "\n".join(frames) + "\nMemoryError"
