// 态势: the trends as one ECharts chart (本期 / 上期 / 去年同期 per row), the hot spots on a small map.
(function () {
  "use strict";
  var trends = document.getElementById("trends-data");
  if (trends && window.echarts) {
    var rows = JSON.parse(trends.textContent);
    var names = rows.map(function (r) { return r.name; });
    echarts.init(document.getElementById("chart-trends"), null, { renderer: "svg" }).setOption({
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 40, right: 10, top: 30, bottom: 30 },
      xAxis: { type: "category", data: names }, yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: "本期", type: "bar", barMaxWidth: 24, data: rows.map(function (r) { return r.count; }) },
        { name: "上期", type: "bar", barMaxWidth: 24, data: rows.map(function (r) { return r.previous; }) },
        { name: "去年同期", type: "bar", barMaxWidth: 24, data: rows.map(function (r) { return r.year_before; }) }
      ]
    });
  }
  var spots = document.getElementById("hotspot-data");
  if (spots && window.L) {
    var list = JSON.parse(spots.textContent).filter(function (h) { return h.lat != null && h.lon != null; });
    var map = L.map("hotspot-map", { attributionControl: false });
    if (!list.length) { map.setView([25.23, 118.96], 12); return; }
    var bounds = L.latLngBounds(list.map(function (h) { return [h.lat, h.lon]; }));
    map.fitBounds(bounds.pad(0.3));
    var most = Math.max.apply(null, list.map(function (h) { return h.count; }));
    list.forEach(function (h) {
      L.circleMarker([h.lat, h.lon], { radius: 6 + 14 * h.count / most, color: "#b3261e", fillOpacity: 0.5 })
        .bindTooltip((h.place || "") + " " + h.count + " 起").addTo(map);
    });
  }
})();
