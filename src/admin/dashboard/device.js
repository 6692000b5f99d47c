// SPDX-License-Identifier: MIT
// The Device page: identity and state, variables with their origin (editable), the files it
// gets (rendered preview, MD5, version), its journal as a live timeline, the doctor's
// verdict, and the actions: enable / disable, resync now.
'use strict';

AP.pages.device = function (root, params, mac) {
	const h = AP.h;
	mac = (mac || '').toLowerCase().replace(/[^0-9a-f]/g, '');
	const enc = encodeURIComponent(mac);
	const identity = h('dl.identity#device-identity');
	const actions = h('div.actions#device-actions');
	const vars = h('div#device-vars');
	const files = h('div#device-files');
	const doctor = h('div#device-doctor', {'aria-live': 'polite'});
	const timeline = h('ol.timeline#device-timeline', {'aria-label': 'Journal of the device, newest first'});
	const title = h('h1#device-title', {text: 'Device ' + AP.macPretty(mac)});
	AP.append(root, [
		h('p.crumbs', {}, h('a', {href: '#/devices', text: 'Devices'}), ' › ', AP.macPretty(mac)),
		title,
		h('div.grid2', {},
		  h('section.card', {'aria-labelledby': 'h-id'}, h('h2#h-id', {text: 'Identity and state'}),
		    identity, actions),
		  h('section.card', {'aria-labelledby': 'h-doc'}, h('h2#h-doc', {text: 'Doctor'}), doctor)),
		h('section.card', {'aria-labelledby': 'h-vars'}, h('h2#h-vars', {text: 'Variables'}), vars),
		h('section.card', {'aria-labelledby': 'h-files'}, h('h2#h-files', {text: 'Files'}), files),
		h('section.card', {'aria-labelledby': 'h-tl'}, h('h2#h-tl', {text: 'Timeline'}), timeline)
	]);

	let device = null, etag = null;

	async function loadDevice() {
		try {
			const r = await AP.api('GET', '/api/v1/devices/' + enc);
			device = r.data;
			etag = r.headers.get('ETag');
		} catch (e) {
			device = null;
			AP.clear(identity).append(h('p', {text: e.status === 404
				? 'Not in the inventory.' : 'Error: ' + e.message}));
			AP.clear(actions);
			toggle = null;
			AP.clear(vars).append(h('p.empty', {text: 'No variables: the device is not in the inventory.'}));
			return;
		}
		drawIdentity();
		drawActions();
	}

	function drawIdentity() {
		const d = device, st = d.state || {};
		const item = (k, v, id) => v === undefined || v === null || v === '' ? null
			: [h('dt', {text: k}), h('dd', {id, text: typeof v === 'string' ? v : String(v)})];
		AP.clear(identity);
		AP.append(identity, [
			item('MAC', AP.macPretty(d.mac)),
			[h('dt', {text: 'State'}), h('dd#device-state', {dataset: {state: st.status || ''}},
							     AP.badge(st.status),
							     d.enabled ? null : h('span.badge.disabled', {text: 'disabled'}))],
			item('Enabled', d.enabled ? 'yes' : 'no', 'device-enabled'),
			item('Profile', d.profile), item('Model', d.model),
			item('Group', d.group), item('Revision', d.rev),
			item('First seen', AP.when(st.first_seen)), item('Last seen', AP.when(st.last_seen)),
			item('Address', st.last_address), item('User agent', st.last_user_agent),
			item('Firmware', st.firmware),
			item('Last configuration', st.last_config && `${st.last_config} at ${AP.when(st.last_config_at)}`),
			item('Its MD5', st.last_config_md5)
		]);
	}

	// the buttons are made once and only updated: a live update never replaces a button
	// under the pointer, nor the result of a resync being followed
	let toggle = null;
	function drawActions() {
		if (!toggle) {
			toggle = h('button#device-enable', {type: 'button'});
			toggle.addEventListener('click', async () => {
				const enable = !device.enabled;
				toggle.disabled = true;
				try {
					await patch({enabled: enable});
					AP.toast(enable ? 'Enabled' : 'Disabled');
				} catch (e) {
					AP.toast('Not changed: ' + e.message, true);
				}
				toggle.disabled = false;
			});
			const resync = h('button#device-resync', {type: 'button', text: 'Resync now'});
			const result = h('p.status#resync-result', {role: 'status', 'aria-live': 'polite'});
			resync.addEventListener('click', () => doResync(resync, result));
			AP.clear(actions).append(toggle, resync, result);
		}
		toggle.textContent = device.enabled ? 'Disable' : 'Enable';
	}

	// a merge patch with If-Match: a change made meanwhile elsewhere is not overwritten
	async function patch(body) {
		const headers = {};
		if (etag)
			headers['If-Match'] = etag;
		try {
			const r = await AP.api('PATCH', '/api/v1/devices/' + enc, body,
					       {headers, type: 'application/merge-patch+json'});
			device = r.data;
			etag = r.headers.get('ETag') || `"${device.rev}"`;
		} catch (e) {
			if (e.status === 412)
				e.message = 'changed meanwhile by someone else; reloaded, try again';
			await refreshAll();
			throw e;
		}
		drawIdentity();
		drawActions();
		loadVars();
		loadFiles();
	}

	async function doResync(button, result) {
		button.disabled = true;
		result.textContent = 'Sending a NOTIFY…';
		try {
			const r = await AP.api('POST', '/api/v1/resync', {macs: [mac]});
			let job = r.data;
			const loc = r.headers.get('Location') || '/api/v1/resync/' + job.id;
			// the job runs on the server: follow it until it is done (at most its wait_s)
			for (let i = 0; i < 200 && job.state !== 'done'; i++) {
				const res = (job.results || [])[0];
				if (res && res.fetched)
					break;
				result.textContent = describe(res) || 'Waiting for the device…';
				await new Promise(ok => setTimeout(ok, 500));
				job = await AP.get(loc);
			}
			const res = (job.results || [])[0];
			result.textContent = describe(res) || 'Done.';
			result.dataset.fetched = res && res.fetched ? 'yes' : 'no';
		} catch (e) {
			result.textContent = 'Resync failed: ' + e.message;
		}
		button.disabled = false;
	}
	function describe(r) {
		if (!r)
			return '';
		if (r.fetched)
			return `The device fetched ${r.fetch_path || 'its file'} again` +
				(r.fetch_after_ms !== undefined ? ` ${r.fetch_after_ms} ms after the NOTIFY.` : '.');
		if (!r.sent)
			return 'Not sent: ' + (r.reason || 'no contact');
		if (r.status)
			return `The device answered ${r.status}${r.reason ? ' ' + r.reason : ''}; waiting for its fetch…`;
		return 'NOTIFY sent to ' + r.contact + '…';
	}

	// ---- variables ----

	// live: a change seen on the event stream; the form is left alone while it is being edited
	async function loadVars(live) {
		if (!device)
			return;
		const editing = vars.querySelector('#vars-form');
		if (live && editing && (editing.contains(document.activeElement) ||
				     [...editing.querySelectorAll('input')].some(i => i.dataset.orig !== undefined
									       ? i.value !== i.dataset.orig : i.value)))
			return;
		let items;
		try {
			items = (await AP.get('/api/v1/devices/' + enc + '/variables')).items || [];
		} catch (e) {
			AP.clear(vars).append(h('p.error', {text: 'The variables could not be read: ' + e.message}));
			return;
		}
		const tbody = h('tbody');
		const inputs = [];
		const show = v => typeof v === 'string' ? v : JSON.stringify(v);
		for (const it of items) {
			const id = 'var-' + it.name;
			// builtins (mac, model, group...) are the device's identity: read, not set here
			const input = it.origin === 'builtin'
				? h('code', {id, text: show(it.value)})
				: h('input', {id, value: show(it.value), 'aria-label': 'Value of ' + it.name,
					      dataset: {name: it.name, origin: it.origin, orig: show(it.value)}});
			if (it.origin !== 'builtin')
				inputs.push([input, it]);
			const del = it.origin === 'device'
				? h('button.small', {type: 'button', text: 'Remove', 'aria-label': 'Remove ' + it.name,
						     onclick: () => save({[it.name]: null})})
				: null;
			tbody.append(h('tr', {dataset: {name: it.name}},
				h('th', {scope: 'row', text: it.name}),
				h('td', {}, input),
				h('td', {}, h('span.origin.origin-' + it.origin, {id: 'origin-' + it.name,
					text: it.origin + (it.group ? ' ' + it.group : '')})),
				h('td', {}, del)));
		}
		const newName = h('input#var-new-name', {placeholder: 'name', 'aria-label': 'New variable name',
							 pattern: '[A-Za-z0-9_-]{1,64}'});
		const newValue = h('input#var-new-value', {placeholder: 'value', 'aria-label': 'New variable value'});
		const err = h('p.error#vars-error', {role: 'alert'});
		const form = h('form#vars-form', {},
			h('div.table-wrap', {}, h('table.vars', {},
				h('thead', {}, h('tr', {}, ['Name', 'Value', 'From', ''].map(t => h('th', {scope: 'col', text: t})))),
				tbody,
				h('tfoot', {}, h('tr', {}, h('td', {}, newName), h('td', {}, newValue), h('td', {text: 'device'}), h('td'))))),
			err,
			h('button#var-save', {type: 'submit', text: 'Save variables'}));
		form.addEventListener('submit', e => {
			e.preventDefault();
			const changes = {};
			for (const [input, it] of inputs)
				if (input.value !== input.dataset.orig)
					changes[it.name] = typed(input.value, it.value);
			if (newName.value.trim())
				changes[newName.value.trim()] = typed(newValue.value);
			if (!Object.keys(changes).length) {
				err.textContent = 'Nothing changed.';
				return;
			}
			save(changes, err);
		});
		AP.clear(vars).append(form,
			h('p.hint', {text: 'A value changed here is set on the device, over its group\'s and the defaults.'}));
	}
	// keep the type the variable had (a number stays a number, a string a string); a new
	// one, or one that was not a string: JSON if it parses (20, true, [1,2]), else a string
	function typed(text, before) {
		if (typeof before === 'string')
			return text;
		try {
			return JSON.parse(text);
		} catch (e) {
			return text;
		}
	}
	async function save(changes, err) {
		try {
			await patch({vars: changes});
			AP.toast('Saved');
		} catch (e) {
			if (err)
				err.textContent = 'Not saved: ' + e.message;
			AP.toast('Not saved: ' + e.message, true);
		}
	}

	// ---- files ----

	const filePaths = new Set();
	async function loadFiles() {
		const st = (device && device.state) || {};
		if (st.last_config)
			filePaths.add(st.last_config.replace(/^\//, ''));
		const list = h('ul.files#device-file-list');
		for (const p of [...filePaths].sort())
			list.append(h('li', {}, h('button.link', {type: 'button', text: p, dataset: {path: p},
								  onclick: () => preview(p)})));
		const other = h('input#file-path', {placeholder: 'another name, e.g. ' + mac + '.cfg',
						    'aria-label': 'File name to preview'});
		const form = h('form.inline', {onsubmit: e => { e.preventDefault(); if (other.value.trim()) preview(other.value.trim()); }},
			       other, h('button', {type: 'submit', text: 'Preview'}));
		const out = h('div#file-preview', {'aria-live': 'polite'});
		AP.clear(files).append(filePaths.size ? list : h('p.empty', {text: 'It has fetched no file yet.'}),
				       form, out);
		if (filePaths.size)
			preview(current && filePaths.has(current) ? current : [...filePaths][0]);
	}
	let current = null;
	async function preview(path) {
		current = path;
		const out = files.querySelector('#file-preview');
		const url = '/api/v1/devices/' + enc + '/files/' + path.split('/').map(encodeURIComponent).join('/');
		try {
			const r = await AP.api('GET', url, undefined, {raw: true});
			const bytes = new Uint8Array(r.data);
			const text = new TextDecoder('utf-8', {fatal: false}).decode(bytes.slice(0, 65536));
			const binary = /[\x00-\x08\x0e-\x1f]/.test(text.slice(0, 4096));
			AP.clear(out).append(
				h('dl.meta', {},
				  h('dt', {text: 'File'}), h('dd', {text: path}),
				  h('dt', {text: 'MD5'}), h('dd#file-md5', {text: r.headers.get('X-Autoprov-MD5') || ''}),
				  h('dt', {text: 'Version'}), h('dd#file-version', {text: r.headers.get('X-Autoprov-Version') || '—'}),
				  h('dt', {text: 'Size'}), h('dd', {text: bytes.length + ' bytes'})),
				binary ? h('p', {text: 'A binary file.'})
				       : h('pre.preview#file-content', {tabindex: '0', 'aria-label': 'Content of ' + path,
									text: text + (bytes.length > 65536 ? '\n…' : '')}));
		} catch (e) {
			AP.clear(out).append(h('p.error', {text: `${path}: ${e.status === 404 ? 'not served to this device' : e.message}`}));
		}
	}

	// ---- doctor ----

	async function loadDoctor() {
		let d;
		try {
			d = await AP.get('/api/v1/devices/' + enc + '/doctor');
		} catch (e) {
			AP.clear(doctor).append(h('p.error', {text: 'The doctor could not answer: ' + e.message}));
			return;
		}
		const worst = (d.verdicts[0] || {}).level || 'ok';
		AP.clear(doctor).append(
			h('p.summary.level-' + worst + '#doctor-summary', {text: d.summary}),
			h('ul.verdicts', {}, d.verdicts.map(v => h('li.verdict.level-' + v.level, {dataset: {code: v.code}},
				h('span.level', {text: v.level}), ' ', h('strong', {text: v.title}),
				v.detail ? h('p', {text: v.detail}) : null,
				v.action ? h('p.action', {}, 'What to do: ', h('code', {text: v.action})) : null))));
	}

	// ---- timeline ----

	let lastId = 0;
	function entry(e, fresh) {
		lastId = Math.max(lastId, e.id);
		return h('li.outcome-' + String(e.outcome || '').replace(/\W+/g, '-') + (fresh ? '.fresh' : ''),
			 {dataset: {id: String(e.id)}},
			 h('time', {datetime: e.time, text: AP.when(e.time)}), ' ',
			 h('span.proto', {text: e.proto || ''}), ' ',
			 h('span.path', {text: e.path || ''}), ' ',
			 h('span.outcome', {text: e.outcome || ''}),
			 e.bytes ? h('span.bytes', {text: ` ${e.bytes} B`}) : null,
			 e.peer ? h('span.peer', {text: ' ' + e.peer}) : null,
			 e.detail ? h('span.detail', {text: ': ' + e.detail}) : null);
	}
	async function loadTimeline() {
		// the API pages oldest first: start a day before the device was last seen (its newest
		// rows, however long its history), read on to the end, keep the newest 200
		const seen = device && device.state && Date.parse(device.state.last_seen);
		const since = seen ? new Date(seen - 86400e3).toISOString() : null;
		let rows = [], cursor = null;
		try {
			for (let i = 0; i < 20; i++) {
				const page = await AP.get('/api/v1/journal' + AP.qs({mac, limit: 1000, cursor,
										  since: cursor ? null : since}));
				rows = rows.concat(page.entries || []).slice(-200);
				cursor = page.next;
				if (!page.more)
					break;
			}
		} catch (e) {
			AP.clear(timeline).append(h('li.error', {text: 'The journal could not be read: ' + e.message}));
			return;
		}
		AP.clear(timeline);
		for (const e of rows.reverse())
			timeline.append(entry(e));
		for (const e of rows)
			if (e.outcome === 'sent' && e.path && !/\.md5$/.test(e.path))
				filePaths.add(e.path.replace(/^\//, ''));
		if (!rows.length)
			timeline.append(h('li.empty#timeline-empty', {text: 'No journal row names it.'}));
	}

	// The timeline is read once the page's stream is open (opened() below, again at each
	// reconnection): a row written between the read and the stream's start would be missed
	// otherwise. A row both read and streamed is skipped by its id.
	async function readTimeline() {
		if (first)
			await first; // since when: the device's last_seen
		await loadTimeline();
		loadFiles();
	}
	let first = loadDevice();
	async function refreshAll() {
		await (first || loadDevice());
		first = null;
		await Promise.all([loadVars(), loadDoctor(),
				   window.EventSource && !reread ? null : readTimeline()]);
		reread = true;
	}
	let reread = false; // refreshAll after an action reads the timeline again
	refreshAll();

	const doctorLater = AP.debounce(loadDoctor, 1000);
	const deviceLater = AP.debounce(async () => { await loadDevice(); loadVars(true); }, 500);
	return {
		stream: '/api/v1/events?mac=' + enc,
		opened() {
			readTimeline();
		},
		event(type, data) {
			if (type === 'journal' && data && data.mac === mac && data.id > lastId) {
				const empty = timeline.querySelector('#timeline-empty');
				if (empty)
					empty.remove();
				timeline.prepend(entry(data, true));
				doctorLater();
			} else if (type === 'device' && data && data.mac === mac) {
				deviceLater();
				doctorLater();
			}
		}
	};
};
