// Draws each chart of the page from the JSON block its figure names (data-chart), with uPlot.
// No inline script: the page's Content-Security-Policy allows only this app's own files.
(function () {
  "use strict";
  var COLOURS = ["#2f6fd0", "#d0432f", "#17803d", "#b06a00", "#7a3fc0", "#444c59"];

  function draw(figure) {
    var source = document.getElementById(figure.getAttribute("data-chart"));
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    var data = [spec.x];
    var series = [{}];
    spec.series.forEach(function (s, i) {
      data.push(s.values);
      var one = { label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2 };
      if (spec.kind === "bars") {
        one.fill = COLOURS[i % COLOURS.length];
        one.paths = uPlot.paths.bars({ size: [0.8, 40], align: 0 });
      }
      series.push(one);
    });
    var width = Math.max(320, figure.clientWidth - 20);
    new uPlot({ width: width, height: 220, series: series, scales: { x: { time: true } } }, data, figure);
  }

  function start() {
    if (typeof uPlot === "undefined") { return; }
    document.querySelectorAll("[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
