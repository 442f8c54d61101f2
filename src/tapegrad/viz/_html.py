"""Self-contained HTML pages: a graph with pan/zoom and tooltips, and the backward stepper."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

_STYLE = """
body { margin: 0; font-family: system-ui, sans-serif; background: #fafafa; color: #222;
  height: 100vh; display: flex; flex-direction: column; }
header { padding: 8px 14px; background: #fff; border-bottom: 1px solid #ddd; display: flex;
  gap: 10px; align-items: center; flex-wrap: wrap; }
header h1 { font-size: 16px; margin: 0 12px 0 0; }
button { font: inherit; padding: 3px 10px; border: 1px solid #999; border-radius: 4px;
  background: #f4f4f4; cursor: pointer; }
button:hover { background: #e8e8e8; }
#main { display: flex; flex: 1; min-height: 0; }
#viewport { flex: 1; overflow: hidden; cursor: grab; background: #fff; }
#viewport.dragging { cursor: grabbing; }
#viewport svg { width: 100%; height: 100%; display: block; }
#tip { position: fixed; display: none; max-width: 520px; background: #fffff0;
  border: 1px solid #888; border-radius: 4px; padding: 6px 8px; font-size: 12px;
  box-shadow: 2px 2px 6px rgba(0,0,0,.2); pointer-events: none; z-index: 10; }
#tip h2 { font-size: 13px; margin: 0 0 4px 0; }
#tip table { border-collapse: collapse; }
#tip td { vertical-align: top; padding: 1px 6px 1px 0; }
#tip td.value, pre { font-family: monospace; white-space: pre-wrap; margin: 0; }
.node { cursor: pointer; }
.node:hover rect { stroke-width: 2.5; }
.node.current rect { stroke: #d00; stroke-width: 3.5; }
.node.done rect { opacity: 0.55; }
.edge.current { stroke: #d00; stroke-width: 2.5; }
#panel { width: 430px; overflow: auto; border-left: 1px solid #ddd; padding: 8px 12px;
  background: #fff; font-size: 13px; }
#panel table { border-collapse: collapse; width: 100%; }
#panel td, #panel th { border-bottom: 1px solid #eee; padding: 3px 4px; text-align: left;
  vertical-align: top; }
#panel tr.current { background: #ffe9e9; }
#panel tr { cursor: pointer; }
.hint { color: #666; font-size: 12px; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var info = JSON.parse(document.getElementById("tapegrad-info").textContent);
  var steps = JSON.parse(document.getElementById("tapegrad-steps").textContent);
  var svg = document.querySelector("#viewport svg");
  var viewport = document.getElementById("viewport");
  var tip = document.getElementById("tip");
  var full = svg.viewBox.baseVal;
  var home = {x: full.x, y: full.y, w: full.width, h: full.height};
  var view = {x: home.x, y: home.y, w: home.w, h: home.h};
  svg.removeAttribute("width");
  svg.removeAttribute("height");

  function apply() {
    svg.setAttribute("viewBox", view.x + " " + view.y + " " + view.w + " " + view.h);
  }
  function zoom(factor, cx, cy) {
    var box = svg.getBoundingClientRect();
    var scale = Math.max(view.w / box.width, view.h / box.height);
    var px = view.x + (cx - box.left) * scale, py = view.y + (cy - box.top) * scale;
    view.w *= factor; view.h *= factor;
    view.x = px - (px - view.x) * factor; view.y = py - (py - view.y) * factor;
    apply();
  }
  function fit() { view = {x: home.x, y: home.y, w: home.w, h: home.h}; apply(); }
  viewport.addEventListener("wheel", function (event) {
    event.preventDefault();
    zoom(event.deltaY < 0 ? 1 / 1.15 : 1.15, event.clientX, event.clientY);
  }, {passive: false});
  var drag = null;
  viewport.addEventListener("mousedown", function (event) {
    drag = {x: event.clientX, y: event.clientY};
    viewport.classList.add("dragging");
  });
  window.addEventListener("mouseup", function () {
    drag = null; viewport.classList.remove("dragging");
  });
  window.addEventListener("mousemove", function (event) {
    if (!drag) { return; }
    var box = svg.getBoundingClientRect();
    var scale = Math.max(view.w / box.width, view.h / box.height);
    view.x -= (event.clientX - drag.x) * scale; view.y -= (event.clientY - drag.y) * scale;
    drag = {x: event.clientX, y: event.clientY};
    apply();
  });
  function centre() {
    var box = svg.getBoundingClientRect();
    return [box.left + box.width / 2, box.top + box.height / 2];
  }
  document.getElementById("zoom-in").addEventListener("click", function () {
    var c = centre(); zoom(1 / 1.3, c[0], c[1]);
  });
  document.getElementById("zoom-out").addEventListener("click", function () {
    var c = centre(); zoom(1.3, c[0], c[1]);
  });
  document.getElementById("zoom-fit").addEventListener("click", fit);

  function cell(text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    return td;
  }
  function showTip(id, event) {
    var data = info[id];
    if (!data) { return; }
    tip.textContent = "";
    var title = document.createElement("h2");
    title.textContent = data.title;
    tip.appendChild(title);
    var table = document.createElement("table");
    (data.rows || []).concat(stepRows(id)).forEach(function (row) {
      var tr = document.createElement("tr");
      tr.appendChild(cell(row[0]));
      tr.appendChild(cell(row[1], "value"));
      table.appendChild(tr);
    });
    tip.appendChild(table);
    tip.style.display = "block";
    moveTip(event);
  }
  function moveTip(event) {
    var x = event.clientX + 14, y = event.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth) { x = Math.max(0, event.clientX - w - 14); }
    if (y + h > window.innerHeight) { y = Math.max(0, event.clientY - h - 14); }
    tip.style.left = x + "px"; tip.style.top = y + "px";
  }
  Array.prototype.forEach.call(svg.querySelectorAll(".node"), function (node) {
    var id = node.getAttribute("data-id");
    node.addEventListener("mouseenter", function (event) { showTip(id, event); });
    node.addEventListener("mousemove", moveTip);
    node.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  });

  // The backward stepper (present when the page shows a trace).
  function stepRows(id) {
    var rows = [];
    steps.forEach(function (step, index) {
      if (step.node !== id) { return; }
      rows.push(["backward step", String(index + 1)]);
      step.incoming.forEach(function (g) { rows.push(["grad in " + g[0], g[1]]); });
      step.outgoing.forEach(function (g) { rows.push(["grad out " + g[0], g[1]]); });
    });
    return rows;
  }
  var current = -1;
  var list = document.getElementById("steps");
  function show(index) {
    if (!steps.length) { return; }
    current = Math.max(-1, Math.min(steps.length - 1, index));
    Array.prototype.forEach.call(svg.querySelectorAll(".node, .edge"), function (el) {
      el.classList.remove("current"); el.classList.remove("done");
    });
    steps.forEach(function (step, i) {
      var el = svg.querySelector('.node[data-id="' + step.node + '"]');
      if (!el) { return; }
      if (i < current) { el.classList.add("done"); }
      if (i === current) {
        el.classList.add("current");
        Array.prototype.forEach.call(
          svg.querySelectorAll('.edge[data-target="' + step.node + '"]'),
          function (edge) { edge.classList.add("current"); });
      }
    });
    Array.prototype.forEach.call(list.querySelectorAll("tr[data-step]"), function (tr) {
      tr.classList.toggle("current", Number(tr.getAttribute("data-step")) === current);
    });
    var detail = document.getElementById("detail");
    detail.textContent = current < 0 ? "Press \u2192 (or Next) to run the first node."
      : steps[current].text;
    document.getElementById("counter").textContent = (current + 1) + " / " + steps.length;
  }
  if (steps.length) {
    document.getElementById("prev").addEventListener("click", function () { show(current - 1); });
    document.getElementById("next").addEventListener("click", function () { show(current + 1); });
    document.getElementById("first").addEventListener("click", function () { show(-1); });
    document.getElementById("last").addEventListener("click", function () {
      show(steps.length - 1);
    });
    Array.prototype.forEach.call(list.querySelectorAll("tr[data-step]"), function (tr) {
      tr.addEventListener("click", function () { show(Number(tr.getAttribute("data-step"))); });
    });
    var wanted = /step=(\d+)/.exec(window.location.hash);
    show(wanted ? Number(wanted[1]) - 1 : -1);
  }
  window.addEventListener("keydown", function (event) {
    if (event.key === "ArrowRight" || event.key === " ") { show(current + 1); }
    else if (event.key === "ArrowLeft") { show(current - 1); }
    else if (event.key === "Home") { show(-1); }
    else if (event.key === "End") { show(steps.length - 1); }
    else if (event.key === "+" || event.key === "=") {
      var c = centre(); zoom(1 / 1.3, c[0], c[1]);
    }
    else if (event.key === "-") { var d = centre(); zoom(1.3, d[0], d[1]); }
    else if (event.key === "0") { fit(); }
    else { return; }
    event.preventDefault();
  });
  document.body.setAttribute("data-ready", "yes");
})();
"""


def _json_script(element_id: str, value: object) -> str:
    # "</" would end the script element early; JSON allows the escaped form.
    text = json.dumps(value).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def graph_page(svg: str, info: dict, title: str, steps: list | None = None,
               panel: str = "") -> str:
    """The whole page; ``steps`` (from trace_backward) adds the stepper panel."""
    controls = ('<button id="zoom-in" title="zoom in (+)">+</button>'
                '<button id="zoom-out" title="zoom out (-)">&#8722;</button>'
                '<button id="zoom-fit" title="fit (0)">fit</button>')
    if steps:
        controls += ('<span style="margin-left:16px"></span>'
                     '<button id="first" title="before the first step (Home)">&#8676;</button>'
                     '<button id="prev" title="previous step (\u2190)">&#8592; prev</button>'
                     '<button id="next" title="next step (\u2192)">next &#8594;</button>'
                     '<button id="last" title="last step (End)">&#8677;</button>'
                     '<span id="counter"></span>')
    side = f'<div id="panel">{panel}</div>' if steps else ""
    hint = ("drag to pan, wheel to zoom, hover a node for its details"
            + ("; \u2190 \u2192 step through backward" if steps else ""))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<header><h1>{escape(title)}</h1>{controls}<span class="hint">{hint}</span></header>'
        f'<div id="main"><div id="viewport">{svg}</div>{side}</div><div id="tip"></div>'
        f"{_json_script('tapegrad-info', info)}{_json_script('tapegrad-steps', steps or [])}"
        f"<script>{_SCRIPT}</script></body></html>\n")
