// The replywatch console: a live queue of waiting buyers and each shop's SLA figures, pushed by
// the daemon over Server-Sent Events (/v1/console/events). Countdowns tick here, against the
// daemon's clock (each queue message carries its `now`).
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const FILTERS = ['platform', 'shop', 'sla'];
  const RETRY_MS = [1000, 2000, 3000, 5000];

  let filter = readFilter();
  let source = null;
  let retries = 0;
  let retryTimer = null;
  let clockOffset = 0; // daemon clock minus this browser's clock
  let queue = null;
  let choices = null;
  const atRiskSince = new Map(); // row key -> when this page first showed it at risk
  const serverAtRiskAt = new Map(); // row key -> when the daemon first said so

  function readFilter() {
    const params = new URLSearchParams(window.location.search);
    const out = {};
    for (const name of FILTERS) {
      const value = params.get(name);
      if (value) out[name] = value;
    }
    return out;
  }

  function query() {
    const params = new URLSearchParams();
    for (const name of FILTERS) if (filter[name]) params.set(name, filter[name]);
    const text = params.toString();
    return text ? '?' + text : '';
  }

  function setStatus(kind, text) {
    const status = $('status');
    status.className = 'status ' + kind;
    status.textContent = text;
    document.body.classList.toggle('offline', kind === 'lost');
  }

  function connect() {
    if (retryTimer !== null) { clearTimeout(retryTimer); retryTimer = null; }
    if (source) source.close();
    source = new EventSource('/v1/console/events' + query());
    source.addEventListener('open', () => { retries = 0; setStatus('live', 'live'); });
    source.addEventListener('error', () => {
      // The browser's own retry gives up on an HTTP error (a restart, the stream cap): this
      // page retries by itself, always, and says so.
      source.close();
      source = null;
      const wait = RETRY_MS[Math.min(retries, RETRY_MS.length - 1)];
      retries += 1;
      setStatus('lost', 'connection lost — retrying in ' + Math.round(wait / 1000) + ' s');
      retryTimer = setTimeout(connect, wait);
    });
    source.addEventListener('queue', (event) => {
      queue = JSON.parse(event.data);
      clockOffset = queue.now - Date.now();
      renderQueue();
    });
    source.addEventListener('shops', (event) => renderShops(JSON.parse(event.data)));
    source.addEventListener('choices', (event) => {
      choices = JSON.parse(event.data);
      renderChoices();
    });
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function rowKey(round) {
    return [round.platform, round.shop, round.sla, round.conversation, round.start].join('\u0000');
  }

  function renderQueue() {
    const body = $('queue').tBodies[0];
    const rows = [];
    const seen = new Set();
    for (const round of queue.rounds) {
      const key = rowKey(round);
      seen.add(key);
      if ((round.at_risk || round.overdue) && !serverAtRiskAt.has(key)) {
        serverAtRiskAt.set(key, Date.now());
      }
      const tr = el('tr', 'round');
      tr.dataset.key = key;
      tr.dataset.due = String(round.due);
      if (round.warn_at !== null) tr.dataset.warnAt = String(round.warn_at);
      tr.dataset.serverAtRisk = String(round.at_risk);
      tr.dataset.serverOverdue = String(round.overdue);
      tr.dataset.conversation = round.conversation;
      if (serverAtRiskAt.has(key)) tr.dataset.serverAtRiskAt = String(serverAtRiskAt.get(key));
      tr.append(el('td', 'left'), el('td', 'state'), el('td', 'platform', round.platform),
                el('td', 'shop', round.shop), el('td', 'sla', round.sla),
                el('td', 'conversation', round.conversation));
      rows.push(tr);
    }
    for (const key of [...atRiskSince.keys()]) if (!seen.has(key)) atRiskSince.delete(key);
    for (const key of [...serverAtRiskAt.keys()]) if (!seen.has(key)) serverAtRiskAt.delete(key);
    body.replaceChildren(...rows);
    $('queue-empty').hidden = rows.length > 0;
    const more = queue.total - queue.rounds.length;
    $('queue-more').hidden = more <= 0;
    $('queue-more').textContent = more > 0 ? 'and ' + more + ' more, due later' : '';
    $('watermark').textContent = new Date(queue.watermark).toISOString().replace('.000Z', 'Z');
    tick();
  }

  function duration(ms) {
    const total = Math.floor(Math.abs(ms) / 1000);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const pad = (n) => String(n).padStart(2, '0');
    if (h > 0) return h + 'h ' + pad(m) + 'm';
    if (m > 0) return m + 'm ' + pad(s) + 's';
    return s + 's';
  }

  // Countdowns and states follow the clock between messages: a round turns at risk at its
  // warning point and overdue at its deadline here, and the daemon's next message confirms it.
  function tick() {
    if (!queue) return;
    const now = Date.now() + clockOffset;
    let atRisk = 0;
    let overdue = 0;
    for (const tr of $('queue').tBodies[0].rows) {
      const due = Number(tr.dataset.due);
      const left = due - now;
      let state = 'waiting';
      if (tr.dataset.serverOverdue === 'true' || left <= 0) {
        state = 'overdue';
      } else if (tr.dataset.serverAtRisk === 'true' ||
                 (tr.dataset.warnAt !== undefined && now >= Number(tr.dataset.warnAt))) {
        state = 'at-risk';
      }
      if (state !== 'waiting' && !atRiskSince.has(tr.dataset.key)) {
        atRiskSince.set(tr.dataset.key, Date.now());
      }
      if (atRiskSince.has(tr.dataset.key)) tr.dataset.atRiskSince = String(atRiskSince.get(tr.dataset.key));
      if (state === 'at-risk') atRisk += 1;
      if (state === 'overdue') overdue += 1;
      tr.className = 'round ' + state;
      tr.dataset.state = state;
      tr.cells[0].textContent = left > 0 ? duration(left) : '+' + duration(left);
      tr.cells[1].textContent = state === 'at-risk' ? 'at risk' : state;
    }
    const counts = $('counts');
    counts.textContent = queue.total + ' waiting · ' + atRisk + ' at risk · ' + overdue + ' overdue' +
        (queue.total > queue.rounds.length ? ' (listed)' : '');
  }

  function percent(ratio) { return (ratio * 100).toFixed(1) + ' %'; }
  function seconds(value) { return value < 100 ? value.toFixed(1) + ' s' : duration(value * 1000); }

  function cell(text, metric, value, className) {
    const td = el('td', className || '', text);
    if (metric) { td.dataset.metric = metric; td.dataset.value = String(value); }
    return td;
  }

  function renderShops(data) {
    const groups = new Map();
    for (const sla of data.slas) {
      const key = sla.platform + '\u0000' + sla.shop;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(sla);
    }
    const cards = [];
    for (const slas of groups.values()) {
      const first = slas[0];
      const card = el('article', 'shop');
      card.dataset.platform = first.platform;
      card.dataset.shop = first.shop;
      if (slas.some((s) => s.violating)) card.classList.add('violating');
      const head = el('h3');
      head.append(el('span', 'name', first.shop), el('span', 'platform', first.platform));
      const agents = el('span', 'agents', first.agents_online + ' online');
      agents.dataset.metric = 'agents_online';
      agents.dataset.value = String(first.agents_online);
      head.append(agents);
      card.append(head);
      const table = el('table');
      const headRow = el('tr');
      for (const title of ['SLA', 'compliance / objective', 'budget left', 'average / target', 'open', 'state']) {
        headRow.append(el('th', '', title));
      }
      table.createTHead().append(headRow);
      const body = table.createTBody();
      for (const sla of slas) {
        const tr = el('tr', sla.violating ? 'violating' : '');
        tr.dataset.sla = sla.sla;
        tr.append(el('td', 'sla', sla.sla));
        if (sla.kind === 'reply_time') {
          tr.append(cell(percent(sla.compliance_ratio) +
                           (sla.objective !== null ? ' / ' + percent(sla.objective) : ''),
                         'compliance_ratio', sla.compliance_ratio));
          tr.append(sla.error_budget_remaining_rounds !== null
              ? cell(String(sla.error_budget_remaining_rounds), 'error_budget_remaining_rounds',
                     sla.error_budget_remaining_rounds,
                     sla.error_budget_remaining_rounds <= 0 ? 'bad' : '')
              : cell('—'));
          tr.append(cell('—'));
        } else if (sla.kind === 'average_response') {
          tr.append(cell('—'), cell('—'));
          tr.append(cell(seconds(sla.average_response_seconds) + ' / ' + seconds(sla.max_average_seconds),
                         'average_response_seconds', sla.average_response_seconds));
        } else {
          tr.append(cell(first.agents_online + ' online / ' + sla.min_online + ' needed'),
                    cell('—'), cell(seconds(sla.understaffed_seconds) + ' understaffed',
                                    'understaffed_seconds', sla.understaffed_seconds));
        }
        tr.append(cell(sla.kind === 'agent_presence' ? '—' : sla.open_rounds + (sla.at_risk_rounds ? ' (' + sla.at_risk_rounds + ' at risk)' : ''),
                       sla.kind === 'agent_presence' ? null : 'open_rounds', sla.open_rounds));
        tr.append(cell(sla.violating ? 'VIOLATING' : 'ok', 'violating', sla.violating ? 1 : 0,
                       sla.violating ? 'flag bad' : 'flag'));
        body.append(tr);
      }
      card.append(table);
      cards.push(card);
    }
    $('shops').replaceChildren(...cards);
    $('shops-empty').hidden = cards.length > 0;
  }

  function fill(select, names, chosen) {
    const options = [el('option', '', 'all')];
    options[0].value = '';
    const all = new Set(names);
    if (chosen) all.add(chosen); // a bookmarked name stays selectable before its first event
    for (const name of [...all].sort()) {
      const option = el('option', '', name);
      option.value = name;
      options.push(option);
    }
    select.replaceChildren(...options);
    select.value = chosen || '';
  }

  function renderChoices() {
    if (!choices) return;
    const platforms = choices.platforms.filter((p) => !filter.platform || p.name === filter.platform);
    fill($('filter-platform'), choices.platforms.map((p) => p.name), filter.platform);
    fill($('filter-shop'), platforms.flatMap((p) => p.shops), filter.shop);
    fill($('filter-sla'), [...new Set(platforms.flatMap((p) => p.slas))], filter.sla);
  }

  function onFilterChange(event) {
    const name = event.target.name;
    filter[name] = event.target.value || undefined;
    if (!filter[name]) delete filter[name];
    history.replaceState(null, '', window.location.pathname + query());
    renderChoices();
    connect();
  }

  document.addEventListener('DOMContentLoaded', () => {
    for (const name of FILTERS) {
      const select = $('filter-' + name);
      if (filter[name]) fill(select, [], filter[name]);
      select.addEventListener('change', onFilterChange);
    }
    window.addEventListener('popstate', () => { filter = readFilter(); renderChoices(); connect(); });
    setInterval(tick, 250);
    connect();
  });
})();
