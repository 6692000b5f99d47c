// SPDX-License-Identifier: MIT
// The Fleet, Devices and Unknown devices pages. Each page is a function (root, params) that
// fills root and returns {event(type, data)} for the live updates app.js passes on.
'use strict';

AP.pages = {};

// ---- Fleet ----

AP.pages.fleet = function (root) {
	const h = AP.h;
	const counts = h('ul.counts#fleet-counts', {'aria-label': 'Devices by state'});
	const requests = h('div#fleet-requests');
	const firmware = h('div#fleet-firmware');
	const alerts = h('div#fleet-alerts');
	AP.append(root, [
		h('h1', {text: 'Fleet'}),
		counts,
		h('div.grid2', {},
		  h('section.card', {'aria-labelledby': 'h-req'},
		    h('h2#h-req', {text: 'Requests per minute, last hour'}), requests),
		  h('section.card', {'aria-labelledby': 'h-fw'},
		    h('h2#h-fw', {text: 'Firmware per model'}), firmware)),
		h('section.card', {'aria-labelledby': 'h-alerts'}, h('h2#h-alerts', {text: 'Alerts'}), alerts)
	]);

	function drawCounts(states, unknown) {
		AP.clear(counts);
		for (const st of AP.STATES) {
			const n = states[st] || 0;
			counts.append(h('li', {},
				h('a.count.state-' + st, {href: '#/devices?state=' + st, id: 'fleet-count-' + st,
					'aria-label': `${AP.STATE_LABEL[st]}: ${n} devices`, dataset: {count: String(n)}},
				  h('span.n', {text: String(n)}), h('span.label', {text: AP.STATE_LABEL[st]}))));
		}
		if (unknown !== undefined)
			counts.append(h('li', {},
				h('a.count.state-unknown', {href: '#/unknown', id: 'fleet-count-unknown',
					'aria-label': `Unknown MACs asking: ${unknown}`, dataset: {count: String(unknown)}},
				  h('span.n', {text: String(unknown)}), h('span.label', {text: 'Unknown MACs'}))));
	}

	let lastUnknown;
	async function load() {
		try {
			const f = await AP.get('/api/v1/fleet');
			lastUnknown = f.unknown;
			drawCounts(f.states || {}, f.unknown);
			AP.clear(requests).append(AP.charts.requests(f.requests));
			AP.clear(firmware).append(AP.charts.firmware(f.firmware));
			AP.clear(alerts).append(drawAlerts(f.alerts || []));
		} catch (e) {
			AP.clear(counts).append(h('li.error', {text: 'The fleet could not be read: ' + e.message}));
		}
	}
	function drawAlerts(list) {
		if (!list.length)
			return h('p.empty#alerts-none', {text: 'No alerts.'});
		return h('ul.alerts#alerts-list', {},
			 list.map(a => h('li.alert.alert-' + a.kind, {},
				h('span.kind', {text: a.kind}), ' ',
				h('time', {datetime: a.at, text: AP.when(a.at)}), ' ',
				a.mac ? h('a', {href: '#/device/' + a.mac, text: AP.macPretty(a.mac)}) : null, ' ',
				a.peer ? h('span.peer', {text: a.peer}) : null, ' ',
				a.path ? h('code.path', {text: a.path}) : null, ' ',
				h('span.detail', {text: a.detail || ''}))));
	}
	load();
	// the counts come live; the charts follow at most every 10 s
	const reload = AP.debounce(load, 10000);
	return {
		event(type, data) {
			if (type === 'fleet' && data) {
				drawCounts(data, lastUnknown);
				reload();
			} else if (type === 'journal')
				reload();
		}
	};
};

// ---- Devices ----

const PAGE_SIZE = 50;

AP.pages.devices = function (root, params) {
	const h = AP.h;
	const f = {q: params.get('q') || '', group: params.get('group') ?? '', profile: params.get('profile') || '',
		   model: params.get('model') || '', state: params.get('state') || '',
		   sort: params.get('sort') || 'mac', order: params.get('order') || 'asc'};
	const groupAny = '*'; // no group is named so (letters, digits, '_', '-')
	if (!params.has('group'))
		f.group = groupAny;
	const q = h('input#devices-q', {type: 'search', value: f.q, placeholder: 'MAC, name or any variable',
				       'aria-label': 'Search devices'});
	const group = AP.select('devices-group', 'Group', [[groupAny, 'any group'], ['', '(no group)']], f.group);
	const profile = AP.select('devices-profile', 'Profile', [['', 'any profile'], ...AP.PROFILES], f.profile);
	const model = h('input#devices-model', {value: f.model, placeholder: 'any', 'aria-label': 'Model'});
	const state = AP.select('devices-state', 'State',
				[['', 'any state'], ...AP.STATES.map(s => [s, AP.STATE_LABEL[s]])], f.state);
	const tbody = h('tbody#devices-rows');
	const status = h('p.status#devices-status', {role: 'status', 'aria-live': 'polite'});
	const prev = h('button#devices-prev', {type: 'button', text: '‹ Previous', disabled: true});
	const next = h('button#devices-next', {type: 'button', text: 'Next ›', disabled: true});
	const cols = [['mac', 'MAC'], ['name', 'Name'], ['model', 'Model'], ['profile', null],
		      ['group', 'Group'], ['state', 'State'], ['last_seen', 'Last seen']];
	const head = h('tr', {}, cols.map(([key, label]) => {
		if (!label)
			return h('th', {scope: 'col', text: 'Profile'});
		const th = h('th', {scope: 'col'});
		th.append(h('button.sort', {type: 'button', id: 'sort-' + key, dataset: {key},
					    onclick: () => setSort(key)}, label));
		return th;
	}));
	AP.append(root, [
		h('h1', {text: 'Devices'}),
		h('form.filters#devices-filters', {role: 'search', onsubmit: e => { e.preventDefault(); restart(); }},
		  AP.field('Search', q, 'wide'), AP.field('Group', group), AP.field('Profile', profile),
		  AP.field('Model', model), AP.field('State', state)),
		status,
		h('div.table-wrap', {}, h('table.devices#devices-table', {}, h('thead', {}, head), tbody)),
		h('nav.pager', {'aria-label': 'Pages of devices'}, prev, next)
	]);

	AP.get('/api/v1/groups').then(g => {
		for (const grp of g.groups || g.items || [])
			group.append(h('option', {value: grp.name, text: `${grp.name} (${grp.devices})`,
						  selected: grp.name === f.group}));
	}).catch(() => {});

	// keyset paging: the cursors of the pages seen, to go back
	let cursors = [null], index = 0, seq = 0, shown = [];

	function query(cursor) {
		const p = {q: f.q, profile: f.profile, model: f.model, state: f.state, limit: PAGE_SIZE,
			   cursor, sort: f.sort !== 'mac' ? f.sort : null, order: f.order !== 'asc' ? f.order : null};
		if (f.group !== groupAny)
			p.group = f.group;
		let s = AP.qs(p);
		if (f.group === '')
			s += (s ? '&' : '?') + 'group=';
		return '/api/v1/devices' + s;
	}
	function remember() {
		// the filters go into the address: a page of results can be linked and reloaded
		const p = {q: f.q, profile: f.profile, model: f.model, state: f.state,
			   sort: f.sort !== 'mac' ? f.sort : null, order: f.order !== 'asc' ? f.order : null};
		let s = AP.qs(p);
		if (f.group !== groupAny)
			s += (s ? '&' : '?') + 'group=' + encodeURIComponent(f.group);
		history.replaceState(null, '', '#/devices' + s);
	}
	async function load() {
		const my = ++seq;
		status.textContent = 'Loading…';
		tbody.setAttribute('aria-busy', 'true');
		let page;
		try {
			page = await AP.get(query(cursors[index]));
		} catch (e) {
			if (my === seq)
				status.textContent = 'Error: ' + e.message;
			return;
		}
		if (my !== seq)
			return; // a newer search went out meanwhile
		shown = page.devices || [];
		AP.clear(tbody);
		for (const d of shown)
			tbody.append(row(d));
		tbody.removeAttribute('aria-busy');
		if (page.next)
			cursors[index + 1] = page.next;
		else
			cursors.length = index + 1;
		prev.disabled = index === 0;
		next.disabled = !page.next;
		const from = index * PAGE_SIZE;
		status.textContent = shown.length
			? `Devices ${from + 1}–${from + shown.length}${page.next ? '' : ' (last page)'}`
			: 'No device matches.';
	}
	function row(d) {
		const st = d.state || {};
		const name = d.vars && (d.vars.name ?? d.vars.display_name ?? '');
		return h('tr', {dataset: {mac: d.mac}},
			 h('td', {}, h('a.mac', {href: '#/device/' + d.mac, text: AP.macPretty(d.mac)})),
			 h('td', {text: typeof name === 'string' ? name : JSON.stringify(name)}),
			 h('td', {text: d.model}), h('td', {text: d.profile}), h('td', {text: d.group}),
			 h('td', {}, AP.badge(st.status), d.enabled ? null : h('span.badge.disabled', {text: 'disabled'})),
			 h('td', {}, st.last_seen ? h('time', {datetime: st.last_seen, title: AP.when(st.last_seen),
							       text: AP.ago(st.last_seen)}) : ''));
	}
	function markSort() {
		for (const [key] of cols) {
			const b = root.querySelector('#sort-' + key);
			if (!b)
				continue;
			const on = key === f.sort;
			b.parentElement.setAttribute('aria-sort', on ? (f.order === 'asc' ? 'ascending' : 'descending') : 'none');
			b.dataset.dir = on ? f.order : '';
		}
	}
	function setSort(key) {
		if (f.sort === key)
			f.order = f.order === 'asc' ? 'desc' : 'asc';
		else {
			f.sort = key;
			f.order = 'asc';
		}
		markSort();
		restart();
	}
	function restart() {
		f.q = q.value.trim();
		f.group = group.value;
		f.profile = profile.value;
		f.model = model.value.trim();
		f.state = state.value;
		cursors = [null];
		index = 0;
		remember();
		load();
	}
	const typed = AP.debounce(restart, 300);
	q.addEventListener('input', typed);
	model.addEventListener('input', typed);
	for (const sel of [group, profile, state])
		sel.addEventListener('change', restart);
	prev.addEventListener('click', () => { if (index > 0) { index--; load(); } });
	next.addEventListener('click', () => { if (cursors[index + 1]) { index++; load(); } });
	markSort();
	load();
	const refresh = AP.debounce(load, 1000);
	return {
		event(type, data) {
			if (type === 'device' && data && shown.some(d => d.mac === data.mac))
				refresh();
		}
	};
};

// ---- Unknown devices ----

AP.pages.unknown = function (root) {
	const h = AP.h;
	const tbody = h('tbody#unknown-rows');
	const all = h('input#unknown-all', {type: 'checkbox', 'aria-label': 'Select every device shown'});
	const group = AP.select('unknown-group', 'Group to add them to', []);
	const approve = h('button#unknown-approve', {type: 'submit', text: 'Add to group', disabled: true});
	const more = h('button#unknown-more', {type: 'button', text: 'Load more', hidden: true});
	const status = h('p.status#unknown-status', {role: 'status', 'aria-live': 'polite'});
	AP.append(root, [
		h('h1', {text: 'Unknown devices'}),
		h('p.hint', {text: 'MACs that asked for files and are not in the inventory, from the journal.'}),
		h('form.filters#unknown-form', {onsubmit: e => { e.preventDefault(); doApprove(); }},
		  AP.field('Group', group), approve),
		status,
		h('div.table-wrap', {}, h('table#unknown-table', {},
		  h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, all),
			['MAC', 'Vendor', 'First seen', 'Last seen', 'Requests', 'Files asked', 'Address']
				.map(t => h('th', {scope: 'col', text: t})))),
		  tbody)),
		more
	]);
	AP.get('/api/v1/groups').then(g => {
		for (const grp of g.groups || g.items || [])
			group.append(h('option', {value: grp.name, text: grp.name}));
		update();
	}).catch(() => {});

	let cursor = null;
	const boxes = () => [...tbody.querySelectorAll('input[type=checkbox]')];
	function update() {
		const n = boxes().filter(b => b.checked).length;
		approve.disabled = n === 0 || !group.value;
		approve.textContent = n ? `Add ${n} to group` : 'Add to group';
	}
	async function load(append) {
		let page;
		try {
			page = await AP.get('/api/v1/unknown-devices' + AP.qs({limit: 100, cursor: append ? cursor : null}));
		} catch (e) {
			status.textContent = 'Error: ' + e.message;
			return;
		}
		if (!append)
			AP.clear(tbody);
		for (const u of page.items || []) {
			const box = h('input', {type: 'checkbox', id: 'unknown-select-' + u.mac, value: u.mac,
						'aria-label': 'Select ' + AP.macPretty(u.mac), onchange: update});
			tbody.append(h('tr', {dataset: {mac: u.mac}},
				h('td', {}, box),
				h('td', {}, h('a.mac', {href: '#/device/' + u.mac, text: AP.macPretty(u.mac)}),
				  u.pending ? h('span.badge.pending', {text: 'pending'}) : null),
				h('td', {text: u.vendor || '—'}),
				h('td', {}, h('time', {datetime: u.first_seen, text: AP.when(u.first_seen)})),
				h('td', {}, h('time', {datetime: u.last_seen, text: AP.ago(u.last_seen)})),
				h('td.num', {text: String(u.requests)}),
				h('td.files', {text: (u.files || []).join(', ')}),
				h('td', {text: u.last_address || ''})));
		}
		cursor = page.next;
		more.hidden = !cursor;
		const n = tbody.rows.length;
		status.textContent = n ? `${n} unknown device${n === 1 ? '' : 's'}` : 'No unknown device asked.';
		all.checked = false;
		update();
	}
	async function doApprove() {
		const macs = boxes().filter(b => b.checked).map(b => b.value);
		if (!macs.length || !group.value)
			return;
		approve.disabled = true;
		try {
			const r = await AP.api('POST', '/api/v1/unknown-devices/approve', {macs, group: group.value});
			const done = `${r.data.approved} added to ${group.value}.`;
			AP.toast(done);
			await load(false);
			status.textContent = done + ' ' + status.textContent;
		} catch (e) {
			status.textContent = 'Not added: ' + e.message;
			AP.toast('Not added: ' + e.message, true);
			update();
		}
	}
	all.addEventListener('change', () => { for (const b of boxes()) b.checked = all.checked; update(); });
	group.addEventListener('change', update);
	more.addEventListener('click', () => load(true));
	load(false);
	const reload = AP.debounce(() => { if (!boxes().some(b => b.checked)) load(false); }, 3000);
	return {
		event(type, data) {
			// a new MAC asking: the list grows (unless the administrator is selecting)
			if (type === 'journal' && data && data.mac)
				reload();
		}
	};
};
