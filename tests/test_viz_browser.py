"""The viz HTML pages in headless Chromium: they render, their scripts run, no console errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import tapegrad as torch
from tapegrad import viz

from .test_viz import custom_function, mlp_loss, seed_tutorial, shared_subexpressions

SETUP = Path(__file__).with_name("browser_setup.sh")
SCREENSHOTS = Path(tempfile.gettempdir()) / "tapegrad-viz-screenshots"

# Collects uncaught errors, rejected promises and console.error calls, then writes them (and
# whether the page's own script finished) into the DOM that --dump-dom prints.
COLLECTOR = """<script>
window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push("error: " + e.message); });
window.addEventListener("unhandledrejection", function (e) {
  window.__errors.push("rejection: " + e.reason); });
(function () { var original = console.error; console.error = function () {
  window.__errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
  return original.apply(console, arguments); }; })();
window.addEventListener("load", function () { setTimeout(function () {
  var out = document.createElement("pre"); out.id = "__report";
  out.textContent = JSON.stringify({errors: window.__errors,
    ready: document.body.getAttribute("data-ready"),
    current: Array.prototype.map.call(document.querySelectorAll(".node.current"),
                                      function (n) { return n.getAttribute("data-id"); }),
    plotly: document.querySelectorAll(".js-plotly-plot .main-svg").length,
    nodes: document.querySelectorAll("svg .node").length});
  document.body.appendChild(out); }, 500); });
</script>"""


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists(
        "/usr/bin/chromium") else None)
    if found is None:
        subprocess.run(["bash", str(SETUP)], check=False, timeout=900)
        found = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists(
            "/usr/bin/chromium") else None)
    if found is None:
        pytest.skip("Chromium is not installed and tests/browser_setup.sh could not install it "
                    "(it needs apt-get and root); the HTML pages were not opened in a browser")
    return found


def run_chromium(binary: str, url: str, profile: str, *mode: str) -> subprocess.CompletedProcess:
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--enable-logging=stderr", "--v=0", "--window-size=1200,800",
               "--virtual-time-budget=3000", *mode, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def open_page(binary: str, html: str, name: str, fragment: str = "") -> dict:
    """Load ``html`` with the collector; return its report; leave a screenshot to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = SCREENSHOTS / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    probed = SCREENSHOTS / f"{name}.probe.html"
    probed.write_text(html.replace("<head>", "<head>" + COLLECTOR, 1), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        dumped = run_chromium(binary, probed.as_uri() + fragment, profile, "--dump-dom")
        shot = SCREENSHOTS / f"{name}.png"
        run_chromium(binary, page.as_uri() + fragment, profile, f"--screenshot={shot}")
    print(f"screenshot: {shot}")
    assert shot.exists() and shot.stat().st_size > 5000, dumped.stderr[-2000:]
    match = re.search(r'<pre id="__report">(.*?)</pre>', dumped.stdout, re.S)
    assert match, f"the page did not finish loading:\n{dumped.stderr[-3000:]}"
    report = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&")
                        .replace("&lt;", "<").replace("&gt;", ">"))
    console = [line for line in dumped.stderr.splitlines()
               if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]
    assert report["errors"] == [] and console == [], (report["errors"], console)
    return report


@pytest.fixture(scope="module")
def browser() -> str:
    return chromium()


@pytest.mark.parametrize("program", [seed_tutorial, mlp_loss, shared_subexpressions,
                                     custom_function], ids=lambda p: p.__name__)
def test_graph_pages_render_without_errors(browser, program):
    output, params = program()
    graph = viz.draw_graph(output, params=params, show_saved=True)
    report = open_page(browser, graph.to_html(), f"graph_{program.__name__}")
    assert report["ready"] == "yes"  # the page's script ran to its end
    assert report["nodes"] == len(graph.nodes)


def test_trace_stepper_highlights_the_current_node(browser):
    loss, params = shared_subexpressions()
    trace = viz.trace_backward(loss, params=params)
    report = open_page(browser, trace.to_html(), "trace_shared_subexpressions", "#step=3")
    assert report["ready"] == "yes"
    assert report["current"] == [trace.graph.node_id(trace[2].node)]


def test_plot_pages_render_without_errors(browser):
    svg_plot = viz.plot_function(lambda x: x.sin() * x, (-4, 4), backend="svg")
    open_page(browser, svg_plot.to_html(), "plot_function_svg")
    losses = viz.plot_losses({"train": [1.0, 0.6, 0.4, 0.3]}, backend="svg")
    open_page(browser, losses.to_html(), "plot_losses_svg")
    try:
        import plotly  # noqa: F401
    except ImportError:
        return  # the plotly pages need the optional extra; the SVG pages above were checked
    plotted = viz.plot_function(lambda x: torch.tanh(x), (-3, 3))
    report = open_page(browser, plotted.to_html(), "plot_function_plotly")
    assert report["plotly"] >= 1
