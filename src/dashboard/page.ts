/**
 * The dashboard page: one HTML document and its stylesheet, kept as string
 * constants so they are part of the program (also in a `deno compile`
 * binary) and need no build step. The script is in app_js.ts. The page holds
 * no job data: the script fills it in from the API with `textContent`.
 * @module
 */

/** Replaced by `?token=<the token>` when the dashboard requires one (the request carried it). */
export const ASSET_QUERY = "{{ASSET_QUERY}}";

/** The page; {@linkcode ASSET_QUERY} marks where asset URLs take the token. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>queuectl dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css${ASSET_QUERY}">
<script src="/app.js${ASSET_QUERY}" defer></script>
</head>
<body>
<header>
  <h1>queuectl</h1>
  <span id="database" class="muted"></span>
  <span class="spacer"></span>
  <span id="connection" class="muted">connecting…</span>
</header>
<div id="error" class="error" role="alert" hidden></div>
<main>
  <section id="counts" class="cards" aria-label="Jobs per state"></section>

  <div class="columns">
    <section class="panel">
      <h2>Throughput <small class="muted">last hour, per minute</small></h2>
      <div id="chart" class="chart"></div>
      <p id="chart-summary" class="muted"></p>
    </section>
    <section class="panel">
      <h2>Workers <small id="workers-summary" class="muted"></small></h2>
      <table id="workers">
        <thead><tr><th>worker</th><th>host</th><th>pid</th><th>current job</th><th>heartbeat</th></tr></thead>
        <tbody></tbody>
      </table>
      <p id="oldest" class="muted"></p>
    </section>
  </div>

  <section class="panel">
    <div class="row">
      <h2>Queues <small id="queues-summary" class="muted"></small></h2>
      <span class="spacer"></span>
      <button id="pause-all" type="button">pause all</button>
      <button id="resume-all" type="button">resume all</button>
    </div>
    <table id="queues">
      <thead><tr><th>queue</th><th>status</th><th>limit</th><th>blocked</th><th>pending</th><th>processing</th><th>failed</th><th>dead</th><th>completed</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
  </section>

  <section id="job-view" class="panel" hidden>
    <div class="row">
      <h2>Job <code id="job-id"></code> <span id="job-state" class="badge"></span></h2>
      <span class="spacer"></span>
      <span id="job-actions"></span>
      <a href="#" id="job-close">close</a>
    </div>
    <dl id="job-fields"></dl>
    <h3>Attempts</h3>
    <table id="job-attempts">
      <thead><tr><th>#</th><th>started</th><th>duration</th><th>outcome</th><th>exit</th><th>output</th><th>worker</th><th>error</th></tr></thead>
      <tbody></tbody>
    </table>
    <h3>Logs <span id="log-attempts"></span> <span id="log-live" class="badge processing" hidden>live</span></h3>
    <div class="logs">
      <div><h4>stdout</h4><pre id="log-stdout"></pre></div>
      <div><h4>stderr</h4><pre id="log-stderr"></pre></div>
    </div>
  </section>

  <section class="panel">
    <div class="row">
      <h2>Jobs</h2>
      <label>state <select id="state-filter"></select></label>
      <label>queue <select id="queue-filter"></select></label>
      <span class="spacer"></span>
      <span id="page-info" class="muted"></span>
      <button id="page-prev" type="button">‹ newer</button>
      <button id="page-next" type="button">older ›</button>
    </div>
    <table id="jobs">
      <thead><tr><th>id</th><th>state</th><th>queue</th><th>tries</th><th>pri</th><th>updated</th><th>command</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
  </section>

  <section class="panel">
    <h2>Schedules <small id="schedules-summary" class="muted"></small></h2>
    <table id="schedules">
      <thead><tr><th>name</th><th>cron</th><th>zone</th><th>queue</th><th>next run</th><th>last run</th><th>command</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>

  <section class="panel">
    <div class="row">
      <h2>Dead-letter queue <small id="dlq-summary" class="muted"></small></h2>
      <span class="spacer"></span>
      <button id="dlq-retry-all" type="button">retry all</button>
    </div>
    <table id="dlq">
      <thead><tr><th>id</th><th>tries</th><th>died</th><th>last error</th><th>command</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
</body>
</html>
`;

/** The stylesheet. */
export const APP_CSS = `
:root {
  --bg: #f6f7f9; --panel: #fff; --ink: #1d2330; --muted: #6b7385; --line: #e3e6ec;
  --blocked: #7c3aed; --pending: #0e7490; --processing: #2563eb; --completed: #15803d; --failed: #b45309;
  --dead: #b91c1c; --cancelled: #6b7280;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); }
header { display: flex; gap: 1rem; align-items: baseline; padding: .7rem 1.2rem;
  background: #1d2330; color: #fff; }
header h1 { margin: 0; font-size: 1.15rem; letter-spacing: .02em; }
header .muted { color: #b8bfcc; }
main { padding: 1rem 1.2rem 2rem; display: grid; gap: 1rem; max-width: 1400px; margin: 0 auto; }
h2 { font-size: 1rem; margin: 0 0 .6rem; }
h3 { font-size: .95rem; margin: 1rem 0 .4rem; }
h4 { font-size: .8rem; margin: 0 0 .2rem; color: var(--muted); font-weight: 600; }
.muted { color: var(--muted); font-weight: normal; }
.spacer { flex: 1; }
.row { display: flex; gap: .8rem; align-items: baseline; flex-wrap: wrap; margin-bottom: .4rem; }
.row h2 { margin: 0; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
  padding: .9rem 1rem; min-width: 0; }
.columns { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1rem; }
@media (max-width: 900px) { .columns { grid-template-columns: 1fr; } }
.cards { display: grid; grid-template-columns: repeat(7, minmax(0, 1fr)); gap: .6rem; }
@media (max-width: 700px) { .cards { grid-template-columns: repeat(4, minmax(0, 1fr)); } }
.card { background: var(--panel); border: 1px solid var(--line); border-left: 4px solid;
  border-radius: 8px; padding: .55rem .8rem; text-align: left; cursor: pointer; font: inherit;
  color: inherit; }
.card.selected { outline: 2px solid var(--ink); }
.card .n { display: block; font-size: 1.6rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .label { color: var(--muted); }
.blocked { border-color: var(--blocked); }
.pending { border-color: var(--pending); } .processing { border-color: var(--processing); }
.completed { border-color: var(--completed); } .failed { border-color: var(--failed); }
.dead { border-color: var(--dead); } .cancelled { border-color: var(--cancelled); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .8rem;
  color: #fff; background: var(--cancelled); font-weight: 600; }
.badge.blocked { background: var(--blocked); } .badge.paused { background: var(--failed); }
.badge.active { background: var(--completed); }
.badge.pending { background: var(--pending); } .badge.processing { background: var(--processing); }
.badge.completed { background: var(--completed); } .badge.failed { background: var(--failed); }
.badge.dead { background: var(--dead); } .badge.cancelled { background: var(--cancelled); }
table { width: 100%; border-collapse: collapse; table-layout: auto; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: .8rem;
  border-bottom: 1px solid var(--line); padding: .3rem .5rem; }
td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; vertical-align: middle; }
td.command { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .85rem; max-width: 40rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td.empty { color: var(--muted); text-align: center; }
td.actions { text-align: right; white-space: nowrap; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #0f1420; color: #e6e9ef; padding: .6rem .8rem; border-radius: 6px;
  max-height: 22rem; overflow: auto; white-space: pre-wrap; word-break: break-all; margin: 0;
  min-height: 2.2rem; font-size: .82rem; }
.logs { display: grid; grid-template-columns: 1fr 1fr; gap: .8rem; }
@media (max-width: 900px) { .logs { grid-template-columns: 1fr; } }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .3rem 0; }
dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
button { font: inherit; font-size: .85rem; line-height: 1.3; padding: .05rem .55rem;
  border-radius: 6px; border: 1px solid #c7ccd6; background: #fff; cursor: pointer; }
button:hover:not(:disabled) { background: #eef1f6; }
button:disabled { opacity: .45; cursor: default; }
button.danger { color: var(--dead); border-color: #e9b4b4; }
button.selected { background: #1d2330; color: #fff; }
a { color: #1d4ed8; }
select { font: inherit; }
.error { background: #fde8e8; color: #7f1d1d; border: 1px solid #f5b5b5; padding: .5rem 1.2rem; }
.chart svg { width: 100%; height: 150px; display: block; }
.chart .bar-completed { fill: var(--completed); } .chart .bar-failed { fill: var(--dead); }
.chart .axis { stroke: var(--line); } .chart text { fill: var(--muted); font-size: 10px; }
`;
