// 值班台: the grid on a Leaflet map (zones by unit load, posts), alerts as markers, the waiting queue;
// kept current by the console's server-sent events (one JSON per NATS event, the same for every browser).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("desk-data").textContent);
  var L10N = data.labels;
  var WAITING = { received: 1, unassigned: 1, assigned: 1 };
  var units = {}, zones = {}, posts = {}, alerts = {}, markers = {}, lines = {};

  var tiles = document.getElementById("map").getAttribute("data-tiles");
  var map = L.map("map", { attributionControl: false, zoomSnap: 0.25 });
  if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
  map.createPane("closedAlerts").style.zIndex = 410;  // above the zones (400), below the open alerts
  map.createPane("openAlerts").style.zIndex = 420;
  window.fqMap = map;

  function unitColour(u) {
    if (!u) return "#c4c8cf";
    if (u.status === "off_duty") return "#c4c8cf";
    if (u.load >= u.capacity) return "#f08a7e";
    if (u.status === "busy") return "#f5c26b";
    return "#8fd19e";
  }
  function postLabel(u) {
    return (u.name || u.unit_id) + " 警务室 · " + (L10N.unit[u.status] || u.status) + " " + u.load + "/" + u.capacity;
  }
  function restyle(id) {
    var u = units[id];
    if (zones[id]) zones[id].setStyle({ fillColor: unitColour(u) });
    if (posts[id] && u) {
      posts[id].setTooltipContent(postLabel(u));
      var el = posts[id].getElement();
      if (el) { el.setAttribute("data-load", u.load); el.setAttribute("data-status", u.status); }
    }
  }

  (data.units || []).forEach(function (u) { units[u.unit_id] = u; });
  var zoneLayer = L.geoJSON(data.grid, {
    style: function (f) {
      return { color: "#42536b", weight: 1.2, fillOpacity: 0.45, fillColor: unitColour(units[f.properties.unit_id]) };
    },
    onEachFeature: function (f, layer) {
      zones[f.properties.unit_id] = layer;
      layer.bindTooltip(f.properties.unit_id + " " + (f.properties.name || ""), { sticky: true });
    }
  });
  // the view first: Leaflet draws vectors only on a map that has one
  if (zoneLayer.getLayers().length) map.fitBounds(zoneLayer.getBounds(), { padding: [10, 10] });
  else map.setView([25.23, 118.96], 13);
  zoneLayer.addTo(map);
  var many = Object.keys(units).length > 30;
  Object.keys(units).forEach(function (id) {
    var u = units[id];
    if (!u.post) return;
    var m = L.circleMarker([u.post[1], u.post[0]], { radius: 6, color: "#1f3a68", weight: 2, fillColor: "#fff", fillOpacity: 1,
                                                     className: "post" })
      .bindTooltip(postLabel(u), { permanent: !many, direction: "right", className: "post" }).addTo(map);
    posts[id] = m;
    var el = m.getElement();
    if (el) { el.setAttribute("data-unit", id); el.setAttribute("data-load", u.load); el.setAttribute("data-status", u.status); }
  });
  function markerStyle(a) {
    var colour = a.state === "closed" ? "#9aa3ad" : a.state === "acknowledged" ? "#1f5fbf" : "#d32f2f";
    return { radius: a.priority === 1 ? 9 : 7, color: "#fff", weight: 2, fillColor: colour, fillOpacity: 0.95 };
  }
  function openCard(id) { htmx.ajax("GET", "/desk/alerts/" + encodeURIComponent(id), { target: "#card" }); }
  function drawAlert(a) {
    if (a.lat == null || a.lon == null) return;
    var m = markers[a.alert_id];
    var pane = a.state === "closed" ? "closedAlerts" : "openAlerts";  // an open alert is never hidden by a closed one
    if (m && m.options.pane !== pane) { map.removeLayer(m); m = null; }
    if (!m) {
      m = L.circleMarker([a.lat, a.lon], Object.assign({ pane: pane }, markerStyle(a))).addTo(map);
      if (performance.mark) performance.mark("alert:" + a.alert_id, { detail: Date.now() });  // bench/console.py
      m.on("click", function () { openCard(a.alert_id); });
      markers[a.alert_id] = m;
    } else {
      m.setStyle(markerStyle(a));
    }
    m.bindTooltip((L10N.category[a.category] || a.category) + " · " + (L10N.alert[a.state] || a.state) +
                  (a.unit_id ? " → " + a.unit_id : "") + (a.summary ? "<br>" + escapeHtml(a.summary) : ""));
    var el = m.getElement();
    if (el) {
      el.classList.add("alert-marker");
      el.setAttribute("data-alert", a.alert_id);
      el.setAttribute("data-state", a.state || "");
      el.setAttribute("data-unit", a.unit_id || "");
    }
    if (lines[a.alert_id]) { map.removeLayer(lines[a.alert_id]); delete lines[a.alert_id]; }
    var u = units[a.unit_id];
    if (u && u.post && a.state !== "closed") {
      lines[a.alert_id] = L.polyline([[u.post[1], u.post[0]], [a.lat, a.lon]],
                                     { color: "#1f3a68", weight: 2, dashArray: "4 4", interactive: false }).addTo(map);
    }
  }
  function escapeHtml(s) {
    return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; });
  }

  // the queue: rows rendered by the server at first, then kept by the events
  var body = document.getElementById("queue-body");
  var template = document.getElementById("row-template");
  function rowOf(id) { return body.querySelector('tr[data-alert="' + CSS.escape(id) + '"]'); }
  function sortQueue() {
    var rows = Array.prototype.slice.call(body.children);
    rows.sort(function (x, y) {
      var p = (+x.getAttribute("data-priority")) - (+y.getAttribute("data-priority"));
      if (p) return p;
      return Date.parse(x.getAttribute("data-received")) - Date.parse(y.getAttribute("data-received"));
    });
    rows.forEach(function (r) { body.appendChild(r); });
    var count = document.getElementById("queue-count");
    count.textContent = rows.length + (count.hasAttribute("data-more") ? "+" : "");
    document.getElementById("queue-empty").hidden = rows.length > 0;
  }
  function fillRow(row, a) {
    row.querySelector(".st").textContent = L10N.alert[a.state] || a.state;
    row.querySelector(".un").textContent = a.unit_id || "—";
  }
  function showInQueue(a) {
    var row = rowOf(a.alert_id);
    if (!WAITING[a.state]) { if (row) row.remove(); sortQueue(); return; }
    if (!row) {
      row = template.content.firstElementChild.cloneNode(true);
      row.setAttribute("data-alert", a.alert_id);
      row.setAttribute("data-priority", a.priority || 2);
      row.setAttribute("data-received", a.received_at || new Date().toISOString());
      row.setAttribute("hx-get", "/desk/alerts/" + encodeURIComponent(a.alert_id));
      row.setAttribute("hx-target", "#card");
      row.classList.add("p" + (a.priority || 2), "fresh");
      var prio = row.querySelector(".prio");
      prio.textContent = L10N.priority[String(a.priority || 2)];
      prio.classList.add("p" + (a.priority || 2));
      row.querySelector(".cat").textContent = L10N.category[a.category] || a.category || "";
      row.querySelector(".sum").textContent = a.summary || "—";
      row.querySelector(".sum").title = a.address || "";
      row.querySelector(".age").setAttribute("data-since", row.getAttribute("data-received"));
      body.appendChild(row);
      htmx.process(row);
    }
    fillRow(row, a);
    sortQueue();
  }

  function load(unitId, delta) {
    var u = units[unitId];
    if (!u) return;
    u.load = Math.max(0, u.load + delta);
    restyle(unitId);
  }
  function onAlert(e) {
    var a = alerts[e.alert_id] || { alert_id: e.alert_id, priority: 2 };
    var held = a.unit_id && (a.state === "assigned" || a.state === "acknowledged") ? a.unit_id : null;
    var kind = e.subject.split(".")[1];
    if (e.location) { a.lon = e.location.lon; a.lat = e.location.lat; a.address = e.location.address; }
    ["category", "priority", "summary", "received_at"].forEach(function (k) { if (e[k] != null) a[k] = e[k]; });
    if (kind === "received") { if (!a.state) a.state = "received"; }
    else if (kind === "assigned") {
      if (held && held !== e.unit_id) load(held, -1);
      if (held !== e.unit_id) load(e.unit_id, +1);
      a.state = "assigned"; a.unit_id = e.unit_id;
    } else if (kind === "unassigned") {
      if (held) load(held, -1);
      a.state = "unassigned"; a.unit_id = "duty_desk";
    } else if (kind === "released") {
      if (held) load(held, -1);
      a.state = "received"; a.unit_id = null;
    } else if (kind === "acknowledged") {
      a.state = "acknowledged"; a.unit_id = e.unit_id;
    } else if (kind === "closed") {
      if (held) load(held, -1);
      a.state = "closed";
    } else { return; }
    alerts[a.alert_id] = a;
    drawAlert(a);
    showInQueue(a);
    var card = document.getElementById("alert-card");
    if (card && card.getAttribute("data-alert") === a.alert_id && kind !== "received") openCard(a.alert_id);
  }
  function onUnit(e) {
    if (units[e.unit_id] && e.status) { units[e.unit_id].status = e.status; restyle(e.unit_id); }
  }
  (data.alerts || []).forEach(function (a) { alerts[a.alert_id] = a; drawAlert(a); });

  // a stream that broke may have missed events: read the desk again once it is back
  var broken = false;
  document.body.addEventListener("htmx:sseError", function () { broken = true; });
  document.body.addEventListener("htmx:sseOpen", function () { if (broken) location.reload(); });
  document.getElementById("desk-live").addEventListener("htmx:sseMessage", function (ev) {
    var e;
    try { e = JSON.parse(ev.detail.data); } catch (err) { return; }
    if (ev.detail.type === "alerts") onAlert(e);
    else if (ev.detail.type === "units") onUnit(e);
    else if (ev.detail.type === "grid") location.reload();
  });
  // the loads as dispatch counts them, now and then (events keep them between)
  setInterval(function () {
    fetch("/desk/units.json", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : []; })
      .then(function (list) { list.forEach(function (u) { units[u.unit_id] = u; restyle(u.unit_id); }); })
      .catch(function () {});
  }, 30000);
  sortQueue();
  if (performance.mark) performance.mark("desk-ready");
})();
