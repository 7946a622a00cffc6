// 评警: one ECharts chart per concern — rates (with last week) and counts per level — per officer and per unit.
(function () {
  "use strict";
  var charts = {};
  function rateOption(d) {
    return {
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 40, right: 10, top: 30, bottom: 40 },
      xAxis: { type: "category", data: d.keys, axisLabel: { rotate: d.keys.length > 8 ? 30 : 0 } },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: [
        { name: "满意率", type: "bar", barMaxWidth: 36, data: d.rate },
        { name: "严格满意率", type: "bar", barMaxWidth: 36, data: d.strict },
        { name: "上周满意率", type: "line", data: d.last_rate, connectNulls: true }
      ]
    };
  }
  function countOption(d) {
    return {
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 40, right: 10, top: 30, bottom: 40 },
      color: ["#3ba272", "#fac858", "#ee6666"],
      xAxis: { type: "category", data: d.keys, axisLabel: { rotate: d.keys.length > 8 ? 30 : 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "满意", type: "bar", stack: "n", barMaxWidth: 48, data: d.satisfied },
        { name: "基本满意", type: "bar", stack: "n", data: d.basically },
        { name: "不满意", type: "bar", stack: "n", data: d.dissatisfied }
      ]
    };
  }
  var titles = { officer: "民警", unit: "责任区" };
  function draw(all) {
    document.querySelectorAll(".chart").forEach(function (el) {
      var d = all[el.getAttribute("data-scope")], kind = el.getAttribute("data-kind");
      var chart = charts[el.id] || (charts[el.id] = echarts.init(el, null, { renderer: "svg" }));
      var option = kind === "rate" ? rateOption(d) : countOption(d);
      option.title = { text: titles[el.getAttribute("data-scope")] + (kind === "rate" ? " · 满意率" : " · 评价数"),
                       left: "right", textStyle: { fontSize: 13 } };
      chart.setOption(option, true);
      el.setAttribute("data-total", d.satisfied.concat(d.basically, d.dissatisfied).reduce(function (a, b) { return a + b; }, 0));
    });
  }
  draw(JSON.parse(document.getElementById("chart-data").textContent));
  window.addEventListener("resize", function () { Object.values(charts).forEach(function (c) { c.resize(); }); });
  document.body.addEventListener("htmx:afterRequest", function (ev) {
    if (ev.detail.elt && ev.detail.elt.id === "ratings-live" && ev.detail.successful) {
      draw(JSON.parse(ev.detail.xhr.responseText));
    }
  });
})();
