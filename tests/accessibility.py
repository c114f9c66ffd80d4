"""axe-core (tests/vendor/axe-core) run in the page a browser test is on.

The site's Content-Security-Policy allows no inline script, so axe is evaluated through the
DevTools protocol (Playwright's evaluate), which the policy does not govern, and the page
itself is tested exactly as participants get it."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
# What blocks or seriously hinders someone using a screen reader, the keyboard or a
# magnifier; "moderate" and "minor" findings are reported by axe but not failed on.
FAILING_IMPACTS = ("serious", "critical")

_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + ": " + n.failureSummary),
  }));
}"""


def violations(page) -> list[dict]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    return page.evaluate(_RUN)


def assert_accessible(page, where: str = "") -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    found = [v for v in violations(page) if v["impact"] in FAILING_IMPACTS]
    assert not found, f"axe-core on {where or page.url}:\n" + "\n".join(
        f"  {v['impact']} {v['id']} ({v['help']}): {'; '.join(v['nodes'])}" for v in found
    )
