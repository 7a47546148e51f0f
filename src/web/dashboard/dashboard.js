// The HelpDesk statistics page: three views of the stats API (per month, per year, per assignee) with Chart.js
// charts, a line and template filter, and the glossary served with the data. Plain script, no build step.
//
// For tests and tools, the page writes what it drew into the DOM: #dashboard gets data-state ("loading", "ready",
// "error"), data-view, data-rows and the totals (data-total-*); each figure gets data-points (labels drawn) and
// data-sum (the sum of its first series), and its canvas data-painted (pixels drawn).
(function () {
  'use strict';

  const VIEWS = ['month', 'year', 'assignee'];
  const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const COLORS = {
    created: '#2f6fd1',
    closed: '#22a06b',
    autoClosed: '#9ca3af',
    cancelled: '#e5a50a',
    open: '#7c3aed',
    median: '#2f6fd1',
    p90: '#93b4ea',
    target: '#d92d20',
    reaction: '#2f6fd1',
    resolution: '#22a06b',
    returns: '#e5a50a',
    rate: '#d92d20',
  };

  const main = document.getElementById('dashboard');
  const statusLine = document.getElementById('status');
  const charts = {};
  const params = new URLSearchParams(location.search);
  const state = {
    member: params.get('member_id') || '',
    view: VIEWS.includes(params.get('view')) ? params.get('view') : 'month',
    from: params.get('from') || '',
    to: params.get('to') || '',
    line: params.get('line') || '',
    template: params.has('template') ? params.get('template') : null, // null: all; "": requests without one
  };
  let requestSerial = 0;

  // The API token (dispatchd's flows.api_token_env), when the deployment sets one, arrives in the fragment
  // (#token=...): a fragment never reaches a server or its logs. It is kept for the tab only and taken out of the
  // address bar so that it is not bookmarked or shared by accident.
  const TOKEN_KEY = 'dispatch.api_token';
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has('token')) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get('token'));
    history.replaceState(null, '', location.pathname + location.search);
  }

  function apiHeaders(accept) {
    const headers = { Accept: accept };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    return headers;
  }

  function setStatus(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle('error', !!isError);
  }

  function fail(reason) {
    main.dataset.state = 'error';
    main.dataset.error = reason;
    setStatus(reason, true);
  }

  // The range and filters, shared by the API call and the page's own address.
  function filterParams(q) {
    if (state.from) q.set('from', state.from);
    if (state.to) q.set('to', state.to);
    if (state.line) q.set('line', state.line);
    if (state.template !== null) q.set('template', state.template);
    return q;
  }

  function query(format) {
    const q = new URLSearchParams();
    q.set('group_by', state.view);
    filterParams(q);
    if (format) q.set('format', format);
    return q;
  }

  function apiUrl(format) {
    return 'api/v1/portals/' + encodeURIComponent(state.member) + '/stats?' + query(format).toString();
  }

  function syncUrl() {
    const q = new URLSearchParams();
    q.set('member_id', state.member);
    q.set('view', state.view);
    filterParams(q);
    history.replaceState(null, '', '?' + q.toString());
  }

  // One call of the statistics API, with the token; null when it did not answer (the page already says so).
  async function callApi(format, accept) {
    try {
      return await fetch(apiUrl(format), { headers: apiHeaders(accept) });
    } catch (e) {
      fail('The statistics API did not answer: ' + e.message);
      return null;
    }
  }

  function failHttp(response, body) {
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      fail('This dashboard needs the API token: open it as …/dashboard#token=<token> (dispatchd\'s flows.api_token_env).');
      return;
    }
    fail('HTTP ' + response.status + ': ' + (body && body.error ? body.error : response.statusText));
  }

  // A plain link cannot send the bearer token, so the CSV is fetched and handed to the browser as a file.
  async function downloadCsv(event) {
    event.preventDefault();
    const response = await callApi('csv', 'text/csv');
    if (!response) return;
    if (!response.ok) {
      failHttp(response, await response.json().catch(() => null));
      return;
    }
    const link = document.createElement('a');
    link.href = URL.createObjectURL(await response.blob());
    link.download = 'helpdesk-stats-' + state.member + '-' + state.view + '.csv';
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 0);
  }

  function rowLabel(row) {
    if (state.view === 'assignee') {
      return row.assignee ? 'User ' + row.assignee : 'Unassigned';
    }
    if (state.view === 'month') {
      const [y, m] = row.period.split('-');
      return MONTHS[Number(m) - 1] + ' ' + y;
    }
    return row.period;
  }

  function fmt(value, unit) {
    if (value === null || value === undefined) return '—';
    const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
    return unit ? text + ' ' + unit : text;
  }

  function sum(values) {
    return values.reduce((acc, v) => acc + (typeof v === 'number' ? v : 0), 0);
  }

  // Pixels a canvas holds that are not transparent: proof that something was drawn.
  function painted(canvas) {
    const ctx = canvas.getContext('2d');
    if (!ctx || canvas.width === 0 || canvas.height === 0) return 0;
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 3; i < data.length; i += 4) {
      if (data[i] !== 0) count++;
    }
    return count;
  }

  function draw(id, config, firstSeries) {
    const figure = document.getElementById(id);
    const canvas = figure.querySelector('canvas');
    if (charts[id]) charts[id].destroy();
    config.options = Object.assign(
      {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
      },
      config.options || {},
    );
    charts[id] = new window.Chart(canvas, config);
    figure.dataset.points = String(config.data.labels.length);
    figure.dataset.sum = String(sum(firstSeries));
  }

  function tiles(totals) {
    const items = [
      ['created', 'Requests created', fmt(totals.created)],
      ['closed', 'Closed', fmt(totals.closed)],
      ['auto_closed', 'Auto-closed (no template)', fmt(totals.auto_closed)],
      ['reaction', 'Reaction median', fmt(totals.reaction.business.median, 'min')],
      ['resolution', 'Resolution median', fmt(totals.resolution.business.median, 'min')],
      ['reaction_on_time', 'Reaction on time', fmt(totals.reaction.on_time_percent, '%')],
      ['resolution_on_time', 'Resolution on time', fmt(totals.resolution.on_time_percent, '%')],
      ['returns', 'Returns', fmt(totals.returns) + ' (' + fmt(totals.return_rate_percent, '%') + ')'],
      ['auto_accepted', 'Auto-accepted', fmt(totals.auto_accepted_percent, '%')],
      ['paused', 'Time paused', fmt(Math.round((totals.paused_minutes / 60) * 10) / 10, 'h')],
      ['open_now', 'Open at the end', fmt(totals.open_at_end)],
    ];
    const box = document.getElementById('tiles');
    box.replaceChildren();
    for (const [key, label, value] of items) {
      const tile = document.createElement('div');
      tile.className = 'tile';
      tile.dataset.key = key;
      const v = document.createElement('div');
      v.className = 'value';
      v.textContent = value;
      const l = document.createElement('div');
      l.className = 'label';
      l.textContent = label;
      tile.append(v, l);
      box.append(tile);
    }
  }

  function clockChart(id, rows, labels, pick) {
    const median = rows.map((r) => pick(r).business.median);
    draw(
      id,
      {
        type: 'bar',
        data: {
          labels,
          datasets: [
            { label: 'Median', data: median, backgroundColor: COLORS.median, order: 1 },
            {
              label: '90th percentile',
              data: rows.map((r) => pick(r).business.p90),
              backgroundColor: COLORS.p90,
              order: 1,
            },
            {
              type: 'line',
              label: 'Target (median)',
              data: rows.map((r) => pick(r).target_median),
              borderColor: COLORS.target,
              backgroundColor: COLORS.target,
              borderDash: [6, 4],
              pointRadius: 3,
              order: 0,
            },
          ],
        },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'business minutes' } } } },
      },
      median,
    );
  }

  // Weekday × hour arrivals, drawn directly on the canvas (Chart.js has no matrix chart without a plug-in).
  function heatmap(arrivals) {
    const figure = document.getElementById('chart-arrivals');
    const canvas = figure.querySelector('canvas');
    const box = canvas.parentElement;
    const ratio = window.devicePixelRatio || 1;
    const width = box.clientWidth;
    const height = box.clientHeight;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = width + 'px';
    canvas.style.height = height + 'px';
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const grid = arrivals.by_weekday_hour;
    const max = Math.max(1, ...grid.flat());
    const left = 40;
    const top = 4;
    const bottom = 22;
    const cellW = (width - left - 4) / 24;
    const cellH = (height - top - bottom) / 7;
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    for (let d = 0; d < 7; d++) {
      ctx.fillStyle = '#6b7280';
      ctx.textAlign = 'left';
      ctx.fillText(WEEKDAYS[d], 4, top + cellH * (d + 0.5));
      for (let h = 0; h < 24; h++) {
        const share = grid[d][h] / max;
        ctx.fillStyle = grid[d][h] === 0 ? '#f3f4f6' : 'rgba(47, 111, 209, ' + (0.15 + 0.85 * share).toFixed(3) + ')';
        ctx.fillRect(left + h * cellW + 1, top + d * cellH + 1, cellW - 2, cellH - 2);
        if (grid[d][h] > 0 && cellW > 18) {
          ctx.fillStyle = share > 0.55 ? '#fff' : '#1f2a37';
          ctx.textAlign = 'center';
          ctx.fillText(String(grid[d][h]), left + (h + 0.5) * cellW, top + (d + 0.5) * cellH);
        }
      }
    }
    ctx.fillStyle = '#6b7280';
    ctx.textAlign = 'center';
    for (let h = 0; h < 24; h += 2) {
      ctx.fillText(String(h).padStart(2, '0'), left + (h + 0.5) * cellW, height - bottom / 2);
    }
    figure.dataset.points = '168';
    figure.dataset.sum = String(sum(grid.flat()));
  }

  function glossary(entries) {
    const dl = document.querySelector('#glossary dl');
    dl.replaceChildren();
    for (const e of entries) {
      const dt = document.createElement('dt');
      dt.textContent = e.title;
      dt.dataset.key = e.key;
      const dd = document.createElement('dd');
      dd.textContent = e.definition;
      dl.append(dt, dd);
    }
  }

  function templates(names) {
    const select = document.getElementById('template');
    const keep = select.value;
    while (select.options.length > 2) select.remove(2);
    for (const name of names) select.add(new Option(name, name));
    select.value = state.template === null ? '*' : state.template;
    if (select.selectedIndex < 0) select.value = keep;
  }

  function render(report) {
    const rows = report.rows;
    const labels = rows.map(rowLabel);
    const k = (pick) => rows.map((r) => pick(r.kpis));

    const created = k((x) => x.created);
    draw(
      'chart-dynamics',
      {
        type: 'bar',
        data: {
          labels,
          datasets: [
            { label: 'Created', data: created, backgroundColor: COLORS.created },
            { label: 'Closed', data: k((x) => x.closed), backgroundColor: COLORS.closed },
            { label: 'Auto-closed', data: k((x) => x.auto_closed), backgroundColor: COLORS.autoClosed },
            { label: 'Cancelled', data: k((x) => x.cancelled), backgroundColor: COLORS.cancelled },
          ],
        },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
      },
      created,
    );
    clockChart('chart-reaction', rows.map((r) => r.kpis), labels, (x) => x.reaction);
    clockChart('chart-resolution', rows.map((r) => r.kpis), labels, (x) => x.resolution);
    const reactionOnTime = k((x) => x.reaction.on_time_percent);
    draw(
      'chart-ontime',
      {
        // Lines join periods; assignees are categories, so they get bars.
        type: state.view === 'assignee' ? 'bar' : 'line',
        data: {
          labels,
          datasets: [
            { label: 'Reaction', data: reactionOnTime, borderColor: COLORS.reaction, backgroundColor: COLORS.reaction },
            {
              label: 'Resolution',
              data: k((x) => x.resolution.on_time_percent),
              borderColor: COLORS.resolution,
              backgroundColor: COLORS.resolution,
            },
          ],
        },
        options: { scales: { y: { min: 0, max: 100, title: { display: true, text: '%' } } } },
      },
      reactionOnTime,
    );
    const returns = k((x) => x.returns);
    draw(
      'chart-returns',
      {
        type: 'bar',
        data: {
          labels,
          datasets: [
            { label: 'Returns', data: returns, backgroundColor: COLORS.returns, yAxisID: 'y', order: 1 },
            {
              type: 'line',
              label: 'Return rate, %',
              data: k((x) => x.return_rate_percent),
              borderColor: COLORS.rate,
              backgroundColor: COLORS.rate,
              yAxisID: 'rate',
              order: 0,
            },
          ],
        },
        options: {
          scales: {
            y: { beginAtZero: true, ticks: { precision: 0 } },
            rate: { position: 'right', min: 0, suggestedMax: 100, grid: { drawOnChartArea: false } },
          },
        },
      },
      returns,
    );
    const open = k((x) => x.open_at_end);
    draw(
      'chart-load',
      {
        type: 'bar',
        data: {
          labels,
          datasets: [
            {
              label: state.view === 'assignee' ? 'Open at the end of the range' : 'Open at period end',
              data: open,
              backgroundColor: COLORS.open,
            },
          ],
        },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
      },
      open,
    );
    heatmap(report.arrivals);
    glossary(report.glossary);
    templates(report.templates);

    tiles(report.totals);
    const t = report.totals;
    main.dataset.view = state.view;
    main.dataset.rows = String(rows.length);
    main.dataset.totalCreated = String(t.created);
    main.dataset.totalClosed = String(t.closed);
    main.dataset.totalAutoClosed = String(t.auto_closed);
    main.dataset.totalReturns = String(t.returns);
    main.dataset.reactionOnTime = t.reaction.on_time_percent === null ? '' : String(t.reaction.on_time_percent);
    main.dataset.resolutionOnTime = t.resolution.on_time_percent === null ? '' : String(t.resolution.on_time_percent);
    main.dataset.openNow = String(t.open_at_end);
    document.getElementById('zone').textContent = report.zone + ' · ' + report.from.slice(0, 10) + ' … ' +
      report.to.slice(0, 10) + ' (exclusive)';

    // Charts draw synchronously with animation off; count pixels on the next frame, then declare the page ready.
    requestAnimationFrame(() => {
      for (const figure of document.querySelectorAll('figure.chart')) {
        const canvas = figure.querySelector('canvas');
        canvas.dataset.painted = String(painted(canvas));
      }
      main.dataset.state = 'ready';
      setStatus(rows.length + ' rows · now ' + report.now.replace('T', ' ').slice(0, 16));
    });
  }

  async function load() {
    const serial = ++requestSerial;
    main.dataset.state = 'loading';
    setStatus('Loading…');
    syncUrl();
    const response = await callApi('', 'application/json');
    if (!response) return;
    const body = await response.json().catch(() => null);
    if (serial !== requestSerial) return; // a later request superseded this one
    if (!response.ok) {
      failHttp(response, body);
      return;
    }
    document.getElementById('from').value = body.from.slice(0, 7);
    document.getElementById('to').value = previousMonth(body.to);
    render(body);
  }

  // `to` is exclusive ("2026-04-01T00:00:00+03:00" ends March): the month input shows the last month included.
  function previousMonth(iso) {
    let y = Number(iso.slice(0, 4));
    let m = Number(iso.slice(5, 7));
    const firstOfMonth = iso.slice(8, 19) === '01T00:00:00';
    if (firstOfMonth) {
      m -= 1;
      if (m === 0) {
        m = 12;
        y -= 1;
      }
    }
    return String(y) + '-' + String(m).padStart(2, '0');
  }

  function bind() {
    document.getElementById('csv').addEventListener('click', downloadCsv);
    for (const button of document.querySelectorAll('#views button')) {
      button.setAttribute('aria-pressed', String(button.dataset.view === state.view));
      button.addEventListener('click', () => {
        if (state.view === button.dataset.view) return;
        state.view = button.dataset.view;
        state.from = '';
        state.to = '';
        for (const b of document.querySelectorAll('#views button')) {
          b.setAttribute('aria-pressed', String(b === button));
        }
        load();
      });
    }
    document.getElementById('from').addEventListener('change', (e) => {
      state.from = e.target.value;
      load();
    });
    document.getElementById('to').addEventListener('change', (e) => {
      state.to = e.target.value;
      load();
    });
    const line = document.getElementById('line');
    line.value = state.line;
    line.addEventListener('change', () => {
      state.line = line.value;
      load();
    });
    const template = document.getElementById('template');
    if (state.template !== null) {
      if (![...template.options].some((o) => o.value === state.template)) {
        template.add(new Option(state.template, state.template));
      }
      template.value = state.template;
    }
    template.addEventListener('change', () => {
      state.template = template.value === '*' ? null : template.value;
      load();
    });
  }

  function start() {
    if (!state.member) {
      main.hidden = true;
      document.getElementById('views').hidden = true;
      document.getElementById('filters').hidden = true;
      document.getElementById('portal-form').hidden = false;
      setStatus('Which portal? Enter its member_id.');
      main.dataset.state = 'no-portal';
      return;
    }
    document.getElementById('portal').textContent = 'portal ' + state.member;
    if (window.DISPATCH_CHART_MISSING || typeof window.Chart !== 'function') {
      fail('The chart library was not built in: run scripts/setup.sh --web and rebuild dispatchd.');
      return;
    }
    bind();
    load();
  }

  start();
})();
