// SPDX-License-Identifier: MIT
// Charts drawn as SVG by hand: a stacked bar chart of requests per minute and a bar chart of
// firmware versions per model. Colours are CSS classes (series-N), never inline styles (the
// CSP allows no style attribute); each chart has a table of its numbers for screen readers.
'use strict';

AP.charts = {};

const SERIES = 10; // series-0 .. series-9 in app.css

// the journal's outcomes, as the fleet's counters name them ("not found" or "not-found")
const OUTCOMES = ['sent', 'not-modified', 'not-found', 'denied', 'blocked', 'busy', 'timed-out',
		  'aborted', 'error'];
function outcomeClass(outcome) {
	const o = String(outcome).replace(/\W+/g, '-');
	return OUTCOMES.includes(o) ? o : 'other';
}
function outcomeRank(outcome) {
	const i = OUTCOMES.indexOf(outcomeClass(outcome));
	return i < 0 ? OUTCOMES.length : i;
}
const PROTO_SHADE = {tftp: 1, http: 0.8, https: 0.65, ftp: 0.5, sip: 0.35};

// requests: [{minute, protocol, outcome, count}], the last hour. now: Date of the right edge.
AP.charts.requests = function (requests, now) {
	const h = AP.h, s = AP.svg;
	const end = Math.floor((now || new Date()).getTime() / 60000) * 60000;
	const minutes = [];
	for (let i = 59; i >= 0; i--)
		minutes.push(end - i * 60000);
	const keys = [];
	const byMinute = new Map(minutes.map(m => [m, new Map()]));
	let total = 0;
	for (const r of requests || []) {
		const key = `${r.protocol} ${r.outcome}`;
		if (!keys.includes(key))
			keys.push(key);
		const m = Math.floor(Date.parse(r.minute) / 60000) * 60000;
		const row = byMinute.get(m);
		if (!row)
			continue;
		row.set(key, (row.get(key) || 0) + r.count);
		total += r.count;
	}
	// colour by outcome (green sent, amber not found, red refused...), shade by protocol
	const outcomeOf = key => key.slice(key.indexOf(' ') + 1);
	const protoOf = key => key.slice(0, key.indexOf(' '));
	keys.sort((a, b) => outcomeRank(outcomeOf(a)) - outcomeRank(outcomeOf(b)) || a.localeCompare(b));
	const cls = key => 'o-' + outcomeClass(outcomeOf(key));
	const shade = key => PROTO_SHADE[protoOf(key)] || 0.5;
	let max = 1;
	for (const row of byMinute.values()) {
		let sum = 0;
		for (const v of row.values())
			sum += v;
		max = Math.max(max, sum);
	}
	const W = 600, H = 200, L = 40, B = 20, T = 8;
	const bw = (W - L) / 60;
	const y = v => T + (H - T - B) * (1 - v / max);
	const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
			      'aria-labelledby': 'chart-requests-title'},
		      s('title', {id: 'chart-requests-title',
				  text: `Requests per minute over the last hour, ${total} in all`}));
	for (const v of [0, max / 2, max]) {
		const yy = y(v);
		svg.append(s('line', {x1: L, x2: W, y1: yy, y2: yy, class: 'grid'}),
			   s('text', {x: L - 4, y: yy + 4, class: 'axis', 'text-anchor': 'end',
				      text: String(Math.round(v))}));
	}
	minutes.forEach((m, i) => {
		let acc = 0;
		const row = byMinute.get(m);
		keys.forEach((key, k) => {
			const v = row.get(key);
			if (!v)
				return;
			const y0 = y(acc), y1 = y(acc + v);
			acc += v;
			svg.append(s('rect', {x: L + i * bw + 0.5, y: y1, width: Math.max(bw - 1, 1),
					      height: Math.max(y0 - y1, 0.5), class: cls(key),
					      'fill-opacity': shade(key)},
				     s('title', {text: `${new Date(m).toISOString().slice(11, 16)} ${key}: ${v}`})));
		});
		if (i % 15 === 0)
			svg.append(s('text', {x: L + i * bw, y: H - 5, class: 'axis',
					      text: new Date(m).toISOString().slice(11, 16)}));
	});
	const legend = h('ul.legend', {'aria-hidden': 'true'},
			 keys.map(key => h('li', {}, AP.svg('svg', {class: 'swatch', viewBox: '0 0 10 10'},
				AP.svg('rect', {width: 10, height: 10, class: cls(key), 'fill-opacity': shade(key)})), key)));
	// the numbers, for screen readers: totals per series over the hour
	const table = h('table', {},
			h('caption', {text: 'Requests in the last hour by protocol and outcome'}),
			h('tr', {}, h('th', {text: 'protocol and outcome'}), h('th', {text: 'requests'})),
			keys.map(key => {
				let n = 0;
				for (const row of byMinute.values())
					n += row.get(key) || 0;
				return h('tr', {}, h('td', {text: key}), h('td', {text: String(n)}));
			}));
	return h('figure.chart-box#chart-requests', {dataset: {total: String(total)}}, svg, legend,
		 h('div.sr-only', {}, table),
		 keys.length ? null : h('p.empty', {text: 'No requests in the last hour.'}));
};

// firmware: [{model, version, count}]
AP.charts.firmware = function (firmware) {
	const h = AP.h, s = AP.svg;
	const rows = (firmware || []).slice().sort((a, b) =>
		a.model.localeCompare(b.model) || b.count - a.count || a.version.localeCompare(b.version));
	const models = [...new Set(rows.map(r => r.model))];
	const max = Math.max(1, ...rows.map(r => r.count));
	const W = 600, RH = 22, L = 190;
	const H = Math.max(rows.length * RH, RH);
	const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
			      'aria-labelledby': 'chart-firmware-title'},
		      s('title', {id: 'chart-firmware-title', text: 'Firmware versions per model'}));
	rows.forEach((r, i) => {
		const w = (W - L - 50) * r.count / max;
		const cls = 'series-' + (models.indexOf(r.model) % SERIES);
		svg.append(s('text', {x: L - 6, y: i * RH + 15, class: 'axis', 'text-anchor': 'end',
				      text: `${r.model || '?'} ${r.version || '?'}`}),
			   s('rect', {x: L, y: i * RH + 3, width: Math.max(w, 1), height: RH - 6, class: cls},
			     s('title', {text: `${r.model} ${r.version}: ${r.count}`})),
			   s('text', {x: L + w + 4, y: i * RH + 15, class: 'axis', text: String(r.count)}));
	});
	const table = h('table', {},
			h('caption', {text: 'Devices by model and firmware version'}),
			h('tr', {}, h('th', {text: 'model'}), h('th', {text: 'version'}), h('th', {text: 'devices'})),
			rows.map(r => h('tr', {}, h('td', {text: r.model}), h('td', {text: r.version}),
					h('td', {text: String(r.count)}))));
	return h('figure.chart-box#chart-firmware', {}, svg, h('div.sr-only', {}, table),
		 rows.length ? null : h('p.empty', {text: 'No firmware known yet.'}));
};
