"""The report's jinja2 template (kept in the package as text: no data files to install)."""

from __future__ import annotations

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Exports of {{ data.sandbox }} – aep-export-reconciler report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #212121; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 0 0 4px; }
.meta, .small { color: #616161; font-size: 12px; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #eee; vertical-align: top; }
th { font-weight: 600; font-size: 12px; color: #424242; }
.export { border: 1px solid #e0e0e0; border-radius: 6px; padding: 10px 12px; margin: 10px 0; }
.badge { display: inline-block; font-size: 11px; padding: 1px 6px; border-radius: 8px;
  background: #eceff1; margin-right: 4px; }
.badge.managed { background: #e8f5e9; } .badge.unmanaged { background: #fff3e0; }
.badge.retired { background: #f3e5f5; }
.label { display: inline-block; font-size: 11px; padding: 1px 6px; border-radius: 3px;
  background: #e3f2fd; margin-right: 4px; font-family: ui-monospace, monospace; }
.chart .bg { fill: #fafafa; stroke: #e0e0e0; }
.chart text { font: 10px system-ui, sans-serif; fill: #424242; }
.chart .tick { fill: #757575; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; }
.status-succeeded { color: #2e7d32; } .status-failed { color: #c62828; }
.status-cancelled { color: #757575; } .status-in-flight { color: #1565c0; }
.status-unknown { color: #ef6c00; }
code { font-family: ui-monospace, monospace; font-size: 12px; }
nav a { margin-right: 12px; }
</style>
</head>
<body>
<h1>Exports of sandbox <code>{{ data.sandbox }}</code></h1>
<div class="meta">Generated {{ fmt(data.generated_at) }} UTC (platform clock) ·
{{ data.exports|length }} exports · {{ data.run_count }} runs · {{ data.datasets|length }} datasets ·
{{ data.drift|length }} open drift finding{{ "" if data.drift|length == 1 else "s" }}
{% if data.start %}· runs from {{ fmt(data.start) }} to {{ fmt(data.end) }}{% endif %}</div>
<nav class="small"><a href="#drift">Open drift</a><a href="#exports">Exports</a><a href="#datasets">Datasets</a></nav>
{% for note in data.notes %}<p class="small">Note: {{ note }}</p>{% endfor %}

<h2 id="overview-title">Runs over time</h2>
<div class="legend">{% for kind in categories %}<span><i style="background: {{ colors[kind] }}"></i>{{ kind }}</span>{% endfor %}<span><i style="background: {{ colors['records'] }}"></i>records written</span></div>
{{ overview }}

<h2 id="drift">Open drift</h2>
{% if data.drift %}
<table><tr><th>Subject</th><th>Kind</th><th>Detail</th></tr>
{% for item in data.drift %}<tr><td><code>{{ item.subject }}</code></td><td>{{ item.kind }}</td><td>{{ item.detail }}</td></tr>
{% endfor %}</table>
{% else %}<p>No drift: <code>reconciler plan --refresh-only</code> finds nothing.</p>{% endif %}

<h2 id="exports">Exports</h2>
<p class="small">Each chart: the runs on the time axis every chart shares (a run spans from its creation to
its end), and below them the records its batches wrote (records are read for the newest
{{ recorded_runs }} runs of each export).</p>
{% for export in data.exports %}
<section class="export" id="export-{{ loop.index }}" data-export="{{ export.key }}">
<h3>{{ export.title }}</h3>
<div>{% if export.retired %}<span class="badge retired">retired (forgotten document)</span>
{% elif export.managed %}<span class="badge managed">managed</span>
{% else %}<span class="badge unmanaged">unmanaged</span>{% endif %}
{% for key, value in export.labels %}<span class="label">{{ key }}={{ value }}</span>{% endfor %}
{% if not export.labels %}<span class="small">no owner labels</span>{% endif %}
<span class="small">· into {% if export.dataset_id %}<code>{{ export.dataset_name or export.dataset_id }}</code> ({{ export.dataset_id }}){% else %}no dataset{% endif %}
· {{ export.runs|length }} run{{ "" if export.runs|length == 1 else "s" }}{% if export.records_total is not none %} · {{ "{:,}".format(export.records_total) }} records{% endif %}</span></div>
{{ charts[loop.index0] }}
{% set newest = export.runs[-5:]|reverse|list %}
{% if newest %}<table class="runs"><tr><th>Job</th><th>Status</th><th>Created</th><th>Finished</th><th>Batches</th><th>Records</th><th>Reason</th></tr>
{% for run in newest %}<tr><td><code>{{ run.job_id }}</code></td><td class="status-{{ run.category|replace(' ', '-') }}">{{ run.status }}{% if not run.listed %} (no longer listed){% endif %}</td><td>{{ fmt(run.created) }}</td><td>{{ fmt(run.finished) }}</td><td>{{ run.batches|length }}</td><td>{{ "-" if run.records is none else "{:,}".format(run.records) }}</td><td>{{ run.reason or "-" }}</td></tr>
{% endfor %}</table>{% endif %}
</section>
{% endfor %}

<h2 id="datasets">Datasets and what writes into them</h2>
<table><tr><th>Dataset</th><th>Id</th><th>Managed by</th><th>Owner labels</th><th>Written by</th></tr>
{% for ds in data.datasets %}<tr><td>{{ ds.name or "-" }}{% if not ds.present %} <span class="status-failed">(not listed)</span>{% endif %}</td><td><code>{{ ds.id }}</code></td>
<td>{% if ds.managed_by %}<code>{{ ds.managed_by }}</code>{% else %}unmanaged{% endif %}</td>
<td>{% for key, value in ds.labels %}<span class="label">{{ key }}={{ value }}</span>{% endfor %}</td>
<td>{% for w in ds.writers %}<div>{% if w.managed %}<code>{{ w.key }}</code>{% else %}{{ w.title }}{% endif %}: {{ w.runs }} run{{ "" if w.runs == 1 else "s" }}{% if w.records is not none %}, {{ "{:,}".format(w.records) }} records{% endif %}</div>{% else %}<span class="small">nothing</span>{% endfor %}</td></tr>
{% endfor %}</table>
</body>
</html>
"""
