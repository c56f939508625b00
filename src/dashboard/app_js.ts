/**
 * The dashboard's script, served as `/app.js`. It polls the JSON API every
 * two seconds (a running job's view and output every second) and builds every element that shows job data with
 * `textContent` / `createElement`, never from HTML text, so a job whose
 * command is `<script>…` shows as that text. It keeps the page's `?token=`
 * and sends it as `Authorization: Bearer` on every API call.
 *
 * Written without template literals so it can live in this string constant.
 * @module
 */

/** The script. */
export const APP_JS: string = String.raw`"use strict";
(function () {
  var STATES = ["blocked", "pending", "processing", "completed", "failed", "dead", "cancelled"];
  var QUEUE_STATES = ["blocked", "pending", "processing", "failed", "dead", "completed"];
  var REFRESH_MS = 2000;
  var LIVE_MS = 1000;
  var PAGE = 25;
  var token = new URLSearchParams(location.search).get("token");
  var view = { state: "", queue: "", offset: 0, total: 0, job: null, attempt: null, logsKey: null, live: false };
  var running = false;
  var again = false;

  function $(id) { return document.getElementById(id); }

  /** An element with text and attributes; children may be nodes or strings (as text). */
  function el(tag, props, children) {
    var node = document.createElement(tag);
    props = props || {};
    Object.keys(props).forEach(function (key) {
      var value = props[key];
      if (value === undefined || value === null) return;
      if (key === "text") node.textContent = String(value);
      else if (key === "className") node.className = value;
      else if (key === "onclick") node.addEventListener("click", value);
      else if (key === "data") Object.keys(value).forEach(function (k) { node.dataset[k] = value[k]; });
      else node.setAttribute(key, String(value));
    });
    (children || []).forEach(function (child) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    });
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clear(node) { node.replaceChildren(); return node; }

  function api(path, method, body) {
    var headers = { "accept": "application/json" };
    if (token) headers["authorization"] = "Bearer " + token;
    if (body !== undefined) headers["content-type"] = "application/json";
    return fetch("/api/" + path, {
      method: method || "GET",
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
        return data;
      });
    });
  }

  function showError(message) {
    var box = $("error");
    box.hidden = !message;
    box.textContent = message || "";
  }

  function ago(isoText) {
    if (!isoText) return "-";
    var seconds = (Date.now() - Date.parse(isoText)) / 1000;
    var future = seconds < 0;
    seconds = Math.abs(seconds);
    var text = seconds < 1 ? "now" : duration(seconds);
    if (text === "now") return text;
    return future ? "in " + text : text + " ago";
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "-";
    if (seconds < 1) return Math.round(seconds * 1000) + "ms";
    if (seconds < 60) return (seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)) + "s";
    var units = [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]];
    var rest = Math.round(seconds);
    var parts = [];
    for (var i = 0; i < units.length && parts.length < 2; i++) {
      if (rest >= units[i][1]) {
        parts.push(Math.floor(rest / units[i][1]) + units[i][0]);
        rest %= units[i][1];
      }
    }
    return parts.join("");
  }

  function time(isoText) {
    return el("span", { text: ago(isoText), title: isoText || "" });
  }

  function badge(state) { return el("span", { className: "badge " + state, text: state }); }

  function jobLink(id) {
    return el("a", { href: "#job=" + encodeURIComponent(id), text: id, data: { jobLink: id } });
  }

  function act(path, body) {
    return api(path, "POST", body || {}).then(function () {
      showError("");
      view.logsKey = null;
      return refresh();
    }, function (error) { showError(error.message); });
  }

  function actionButtons(job) {
    var buttons = [];
    if (job.state === "dead") {
      buttons.push(el("button", {
        type: "button",
        text: "retry",
        data: { action: "retry", id: job.id },
        onclick: function () { act("jobs/" + encodeURIComponent(job.id) + "/retry"); },
      }));
    }
    if (["blocked", "pending", "failed", "processing"].indexOf(job.state) >= 0) {
      buttons.push(el("button", {
        type: "button",
        className: "danger",
        text: "cancel",
        data: { action: "cancel", id: job.id },
        onclick: function () { act("jobs/" + encodeURIComponent(job.id) + "/cancel"); },
      }));
    }
    return buttons;
  }

  function emptyRow(table, columns, text) {
    $(table).tBodies[0].append(el("tr", {}, [el("td", { colspan: columns, className: "empty", text: text })]));
  }

  // ── counts and workers ────────────────────────────────────────────────
  function renderStatus(status) {
    $("database").textContent = status.database;
    var cards = clear($("counts"));
    STATES.forEach(function (state) {
      cards.append(el("button", {
        type: "button",
        className: "card " + state + (view.state === state ? " selected" : ""),
        data: { state: state },
        title: "show " + state + " jobs",
        onclick: function () { setFilter(view.state === state ? "" : state); },
      }, [
        el("span", { className: "n", text: status.jobs[state], data: { count: state } }),
        el("span", { className: "label", text: state }),
      ]));
    });
    var body = clear($("workers").tBodies[0]);
    var workers = status.live_workers.filter(function (w) { return w.kind === "worker"; });
    workers.forEach(function (w) {
      body.append(el("tr", { data: { worker: w.id } }, [
        el("td", {}, [el("code", { text: w.id })]),
        el("td", { text: w.host }),
        el("td", { text: w.pid }),
        el("td", {}, [w.current_job ? jobLink(w.current_job) : el("span", { className: "muted", text: "idle" })]),
        el("td", {}, [time(w.last_heartbeat)]),
      ]));
    });
    if (workers.length === 0) emptyRow("workers", 5, "No live workers. Start some with: queuectl worker start");
    $("workers-summary").textContent = status.workers + " live, " + status.busy_workers + " busy";
    $("oldest").textContent = "oldest pending job: " +
      (status.oldest_pending_seconds === null ? "none" : duration(status.oldest_pending_seconds));
  }

  // ── queues ────────────────────────────────────────────────────────────
  function queueButton(name, paused) {
    var verb = paused ? "resume" : "pause";
    return el("button", {
      type: "button",
      text: verb,
      data: { action: verb, queue: name },
      onclick: function () { act("queues/" + encodeURIComponent(name) + "/" + verb); },
    });
  }

  function renderQueues(data) {
    var body = clear($("queues").tBodies[0]);
    data.queues.forEach(function (q) {
      body.append(el("tr", { data: { queue: q.name } }, [
        el("td", {}, [el("a", { href: "#", text: q.name, onclick: function (event) {
          event.preventDefault();
          setQueue(view.queue === q.name ? "" : q.name);
        } })]),
        el("td", {}, [el("span", { className: "badge " + (q.paused ? "paused" : "active"), text: q.paused ? "paused" : "active" })]),
        el("td", { text: q.concurrency === 0 ? "-" : q.concurrency }),
      ].concat(QUEUE_STATES.map(function (state) {
        return el("td", { text: q.jobs[state], data: { queueCount: state } });
      })).concat([el("td", { className: "actions" }, [queueButton(q.name, q.paused)])])));
    });
    if (data.queues.length === 0) emptyRow("queues", 10, "No queues yet.");
    var paused = data.queues.filter(function (q) { return q.paused; }).length;
    $("queues-summary").textContent = data.queues.length + " queues, " + paused + " paused" +
      (data.new_queues_paused ? "; new queues start paused" : "");
    var filter = $("queue-filter");
    var names = [""].concat(data.queues.map(function (q) { return q.name; }));
    var shown = Array.prototype.map.call(filter.options, function (o) { return o.value; });
    if (names.join("\u0000") !== shown.join("\u0000")) {
      clear(filter);
      names.forEach(function (name) { filter.append(el("option", { value: name, text: name || "all" })); });
    }
    filter.value = view.queue;
  }

  // ── jobs table ────────────────────────────────────────────────────────
  function setFilter(state) {
    view.state = state;
    view.offset = 0;
    $("state-filter").value = state;
    refresh();
  }

  function setQueue(queue) {
    view.queue = queue;
    view.offset = 0;
    $("queue-filter").value = queue;
    refresh();
  }

  function renderJobs(page) {
    view.total = page.total;
    var body = clear($("jobs").tBodies[0]);
    page.jobs.forEach(function (job) {
      body.append(el("tr", { data: { jobId: job.id } }, [
        el("td", {}, [jobLink(job.id)]),
        el("td", {}, [badge(job.state)]),
        el("td", { text: job.queue }),
        el("td", { text: job.attempts + "/" + (job.max_retries + 1) }),
        el("td", { text: job.priority }),
        el("td", {}, [time(job.updated_at)]),
        el("td", { className: "command", text: job.command, title: job.command }),
        el("td", { className: "actions" }, actionButtons(job)),
      ]));
    });
    if (page.jobs.length === 0) {
      emptyRow("jobs", 8, "No " + (view.state ? view.state + " " : "") + "jobs" + (view.queue ? " in queue " + view.queue : "") + ".");
    }
    var first = page.total === 0 ? 0 : page.offset + 1;
    var last = page.offset + page.jobs.length;
    $("page-info").textContent = first + "–" + last + " of " + page.total;
    $("page-prev").disabled = page.offset === 0;
    $("page-next").disabled = last >= page.total;
  }

  function renderDlq(page) {
    var body = clear($("dlq").tBodies[0]);
    page.jobs.forEach(function (job) {
      body.append(el("tr", { data: { jobId: job.id } }, [
        el("td", {}, [jobLink(job.id)]),
        el("td", { text: job.attempts }),
        el("td", {}, [time(job.finished_at)]),
        el("td", { text: job.last_error || "" }),
        el("td", { className: "command", text: job.command, title: job.command }),
        el("td", { className: "actions" }, actionButtons(job)),
      ]));
    });
    if (page.jobs.length === 0) emptyRow("dlq", 6, "The dead-letter queue is empty.");
    $("dlq-summary").textContent = page.total + " dead" + (page.total > page.jobs.length ? ", newest " + page.jobs.length + " shown" : "");
    $("dlq-retry-all").disabled = page.total === 0;
  }

  // ── schedules ─────────────────────────────────────────────────────────
  function renderSchedules(data) {
    var body = clear($("schedules").tBodies[0]);
    data.schedules.forEach(function (s) {
      body.append(el("tr", { data: { schedule: s.name } }, [
        el("td", {}, [el("code", { text: s.name })]),
        el("td", {}, [el("code", { text: s.cron })]),
        el("td", { text: s.tz }),
        el("td", { text: s.queue }),
        el("td", { data: { nextRun: s.name } }, [s.next_run ? time(s.next_run) : el("span", { className: "muted", text: "never" })]),
        el("td", {}, [s.last_job ? jobLink(s.last_job) : el("span", { className: "muted", text: "-" })]),
        el("td", { className: "command", text: s.command, title: s.command }),
      ]));
    });
    if (data.schedules.length === 0) emptyRow("schedules", 7, "No schedules. Add one with: queuectl schedule add NAME --cron \"0 * * * *\" -c CMD");
    $("schedules-summary").textContent = data.schedules.length + " recurring";
  }

  // ── one job ───────────────────────────────────────────────────────────
  function selectedJob() {
    var match = location.hash.match(/^#job=(.*)$/);
    if (!match) return null;
    try { return decodeURIComponent(match[1]); } catch (e) { return null; }
  }

  function renderJob(job) {
    $("job-view").hidden = false;
    $("job-id").textContent = job.id;
    var state = $("job-state");
    state.className = "badge " + job.state;
    state.textContent = job.state;
    clear($("job-actions")).append.apply($("job-actions"), actionButtons(job));
    var fields = clear($("job-fields"));
    var waiting = job.waiting_for.map(function (d) { return d.id + " (" + d.state + ")"; }).join(", ");
    if (job.blocked_by_dead) waiting += (waiting ? "; " : "") + "stuck behind dead job " + job.blocked_by_dead + " (retry it to go on)";
    [
      ["command", job.command], ["queue", job.queue],
      ["after", job.after.length ? job.after.join(", ") : "-"],
    ].concat(job.state === "blocked" ? [["waiting for", waiting || "-"]] : []).concat([
      ["attempts", job.attempts + " of at most " + (job.max_retries + 1)],
      ["priority", job.priority], ["run at", job.run_at], ["timeout", job.timeout === null ? "none" : duration(job.timeout)],
      ["cwd", job.cwd], ["created", job.created_at], ["updated", job.updated_at],
      ["started", job.started_at || "-"], ["finished", job.finished_at || "-"],
      ["exit code", job.exit_code === null ? "-" : job.exit_code], ["last error", job.last_error || "-"],
      ["worker", job.worker || "-"],
    ]).forEach(function (pair) {
      fields.append(el("dt", { text: pair[0] }), el("dd", { text: pair[1] }));
    });
    var body = clear($("job-attempts").tBodies[0]);
    job.history.forEach(function (a) {
      var took = a.finished_at ? (Date.parse(a.finished_at) - Date.parse(a.started_at)) / 1000
        : (Date.now() - Date.parse(a.started_at)) / 1000;
      body.append(el("tr", { data: { attempt: a.attempt } }, [
        el("td", { text: a.attempt }),
        el("td", { text: a.started_at }),
        el("td", { text: duration(took) + (a.finished_at ? "" : "…") }),
        el("td", { text: a.outcome }),
        el("td", { text: a.exit_code === null ? "-" : a.exit_code }),
        el("td", { text: a.stdout_bytes + " B / " + a.stderr_bytes + " B" }),
        el("td", { text: a.worker || "-" }),
        el("td", { text: a.error || "" }),
      ]));
    });
    if (job.history.length === 0) emptyRow("job-attempts", 8, "Not run yet.");
    var numbers = job.history.map(function (a) { return a.attempt; });
    if (view.attempt === null || numbers.indexOf(view.attempt) < 0) {
      view.attempt = numbers.length ? numbers[numbers.length - 1] : null;
    }
    var picker = clear($("log-attempts"));
    numbers.forEach(function (n) {
      picker.append(el("button", {
        type: "button",
        className: n === view.attempt ? "selected" : "",
        text: "#" + n,
        onclick: function () { view.attempt = n; view.logsKey = null; refresh(); },
      }));
    });
    return loadLogs(job);
  }

  /** Sets a log box's text, keeping it scrolled to the end if it was there (a live run). */
  function setLog(id, text) {
    var box = $(id);
    var atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    box.textContent = text;
    if (atEnd) box.scrollTop = box.scrollHeight;
  }

  function loadLogs(job) {
    var latest = job.history.filter(function (a) { return a.attempt === view.attempt; })[0];
    var running = !!latest && latest.outcome === "running";
    view.live = running;
    $("log-live").hidden = !running;
    // Workers store a running job's output as it comes, the rest when the run ends:
    // fetch again only when one of those changed.
    var key = [job.id, view.attempt, latest ? latest.finished_at : "",
      latest ? latest.stdout_bytes : "", latest ? latest.stderr_bytes : ""].join("\u0000");
    if (key === view.logsKey) return null;
    view.logsKey = key;
    if (view.attempt === null) {
      $("log-stdout").textContent = "";
      $("log-stderr").textContent = "";
      return null;
    }
    return api("jobs/" + encodeURIComponent(job.id) + "/logs?attempt=" + view.attempt).then(function (logs) {
      setLog("log-stdout", logs.stdout);
      setLog("log-stderr", logs.stderr);
    });
  }

  /** Between full refreshes, the open job again while its run is live. */
  function refreshLive() {
    if (running || !view.live || view.job === null) return;
    api("jobs/" + encodeURIComponent(view.job)).then(renderJob).catch(function () {});
  }

  // ── throughput chart ──────────────────────────────────────────────────
  function renderMetrics(m) {
    var box = clear($("chart"));
    var width = 600, height = 150, left = 30, bottom = 18, top = 8;
    var series = m.per_minute.slice(-60);
    var peak = Math.max(1, Math.max.apply(null, series.map(function (b) { return b.completed + b.failed; })));
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "runs per minute" });
    var plotHeight = height - bottom - top;
    var step = (width - left) / Math.max(series.length, 1);
    chart.append(svg("line", { x1: left, x2: width, y1: height - bottom, y2: height - bottom, "class": "axis" }));
    chart.append(svg("text", { x: left - 4, y: top + 8, "text-anchor": "end" }, String(peak)));
    chart.append(svg("text", { x: left - 4, y: height - bottom, "text-anchor": "end" }, "0"));
    series.forEach(function (b, i) {
      var x = left + i * step + 0.5;
      var w = Math.max(step - 1, 1);
      var hc = plotHeight * b.completed / peak;
      var hf = plotHeight * b.failed / peak;
      var group = svg("g", {});
      group.append(svg("title", {}, b.minute.slice(11, 16) + " UTC: " + b.completed + " completed, " + b.failed + " failed"));
      if (hc > 0) group.append(svg("rect", { x: x, y: height - bottom - hc, width: w, height: hc, "class": "bar-completed" }));
      if (hf > 0) group.append(svg("rect", { x: x, y: height - bottom - hc - hf, width: w, height: hf, "class": "bar-failed" }));
      chart.append(group);
    });
    chart.append(svg("text", { x: left, y: height - 4 }, "-" + series.length + "m"));
    chart.append(svg("text", { x: width, y: height - 4, "text-anchor": "end" }, "now"));
    box.append(chart);
    var r = m.run_seconds;
    $("chart-summary").textContent = m.completed + " completed, " + m.failed + " failed" +
      (m.success_rate === null ? "" : " · success " + (m.success_rate * 100).toFixed(1) + "%") +
      (r.count ? " · run time p50 " + duration(r.p50) + ", p95 " + duration(r.p95) + ", p99 " + duration(r.p99) : "") +
      " · " + m.retries + " retries, " + m.dead + " died";
  }

  // ── refresh loop ──────────────────────────────────────────────────────
  function refresh() {
    if (running) { again = true; return Promise.resolve(); }
    running = true;
    var jobId = selectedJob();
    if (jobId !== view.job) { view.job = jobId; view.attempt = null; view.logsKey = null; }
    if (jobId === null) { $("job-view").hidden = true; view.live = false; }
    var query = "jobs?limit=" + PAGE + "&offset=" + view.offset + (view.state ? "&state=" + view.state : "") +
      (view.queue ? "&queue=" + encodeURIComponent(view.queue) : "");
    var work = [
      api("status").then(renderStatus),
      api("queues").then(renderQueues),
      api(query).then(renderJobs),
      api("jobs?state=dead&limit=20").then(renderDlq),
      api("metrics?since=1h").then(renderMetrics),
      api("schedules").then(renderSchedules),
    ];
    if (jobId !== null) {
      work.push(api("jobs/" + encodeURIComponent(jobId)).then(renderJob).catch(function (error) {
        $("job-view").hidden = true;
        throw error;
      }));
    }
    return Promise.all(work).then(function () {
      showError("");
      $("connection").textContent = "updated " + new Date().toLocaleTimeString();
    }, function (error) {
      showError(error.message);
      $("connection").textContent = "update failed";
    }).then(function () {
      running = false;
      if (again) { again = false; refresh(); }
    });
  }

  function start() {
    var filter = $("state-filter");
    filter.append(el("option", { value: "", text: "all" }));
    STATES.forEach(function (s) { filter.append(el("option", { value: s, text: s })); });
    filter.addEventListener("change", function () { setFilter(filter.value); });
    $("queue-filter").addEventListener("change", function () { setQueue($("queue-filter").value); });
    $("pause-all").addEventListener("click", function () { act("queues/pause"); });
    $("resume-all").addEventListener("click", function () { act("queues/resume"); });
    $("page-prev").addEventListener("click", function () {
      view.offset = Math.max(0, view.offset - PAGE);
      refresh();
    });
    $("page-next").addEventListener("click", function () {
      if (view.offset + PAGE < view.total) view.offset += PAGE;
      refresh();
    });
    $("dlq-retry-all").addEventListener("click", function () { act("dlq/retry", { all: true }); });
    $("job-close").addEventListener("click", function (event) {
      event.preventDefault();
      history.replaceState(null, "", location.pathname + location.search);
      refresh();
    });
    window.addEventListener("hashchange", refresh);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
    setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
    setInterval(function () { if (!document.hidden) refreshLive(); }, LIVE_MS);
    refresh();
  }

  start();
})();
`;
