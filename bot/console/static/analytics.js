// /console/analytics: draws each figure's chart with the vendored ECharts from the JSON the page carries
// (bot/console/analytics_routes.py _chart_data). Plain script, no build step.
(function () {
  "use strict";

  var PALETTE = ["#0b6bcb", "#1f7a4d", "#a15c00", "#b42318", "#6941c6", "#0e7490", "#616e7c", "#c11574"];

  function label(value, limit) {
    var text = value === null || value === undefined ? "" : String(value);
    return text.length > limit ? text.slice(0, limit) + "…" : text;
  }

  function unique(values) {
    var seen = [];
    values.forEach(function (value) { if (seen.indexOf(value) < 0) seen.push(value); });
    return seen;
  }

  function isShare(spec) {
    return spec.y.length > 0 && spec.columns[spec.y[0]].kind === "share";
  }

  function valueAxis(spec) {
    var axis = { type: "value", minInterval: isShare(spec) ? 0 : 1 };
    if (isShare(spec)) {
      axis.max = 1;
      axis.axisLabel = { formatter: function (v) { return Math.round(v * 100) + "%"; } };
    }
    return axis;
  }

  function tooltip(spec) {
    var tip = { trigger: spec.kind === "pie" ? "item" : "axis" };
    if (isShare(spec)) {
      tip.valueFormatter = function (v) { return v === null ? "—" : (v * 100).toFixed(1) + "%"; };
    }
    return tip;
  }

  function categoryAxis(categories) {
    var long = categories.some(function (c) { return String(c).length > 6; });
    return {
      type: "category",
      data: categories,
      axisLabel: { interval: 0, rotate: long || categories.length > 8 ? 30 : 0,
                   formatter: function (v) { return label(v, 14); } },
    };
  }

  function option(spec) {
    var rows = spec.rows;
    var base = { color: PALETTE, tooltip: tooltip(spec), grid: { left: 56, right: 24, top: 40, bottom: 90 },
                 legend: { top: 0, type: "scroll" } };
    if (spec.colors.length) base.color = spec.colors;
    if (spec.kind === "pie") {
      base.legend.show = false;  // the labels name every slice
      base.series = [{
        type: "pie", radius: ["35%", "62%"],
        data: rows.map(function (r) { return { name: r[spec.x], value: r[spec.y[0]] }; }),
        label: { formatter: "{b}\n{c} 次（{d}%）" },
      }];
      return base;
    }
    var categories = unique(rows.map(function (r) { return r[spec.x]; }));
    var stacked = spec.kind === "stacked_bar";
    var series;
    if (spec.series) {
      // One series per value of spec.series, summing the first y key over the other columns (e.g. kinds).
      series = unique(rows.map(function (r) { return r[spec.series]; })).map(function (name) {
        return {
          type: "bar", name: name, stack: stacked ? "total" : undefined,
          data: categories.map(function (c) {
            return rows.reduce(function (sum, r) {
              return r[spec.x] === c && r[spec.series] === name ? sum + r[spec.y[0]] : sum;
            }, 0);
          }),
        };
      });
    } else {
      series = spec.y.map(function (key) {
        return {
          type: spec.kind === "line" ? "line" : "bar", name: spec.columns[key].title,
          stack: stacked ? "total" : undefined,
          data: categories.map(function (c) {
            var row = rows.filter(function (r) { return r[spec.x] === c; })[0];
            return row ? row[key] : null;
          }),
        };
      });
    }
    base.xAxis = categoryAxis(categories);
    base.yAxis = valueAxis(spec);
    base.series = series;
    return base;
  }

  function draw() {
    var source = document.getElementById("analytics-data");
    if (!source || typeof echarts === "undefined") return;
    var specs = JSON.parse(source.textContent);
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var spec = specs[element.getAttribute("data-chart")];
      if (!spec) return;
      var chart = echarts.init(element, null, { renderer: "svg" });
      chart.setOption(option(spec));
      charts.push(chart);
      element.setAttribute("data-rendered", "true");
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
