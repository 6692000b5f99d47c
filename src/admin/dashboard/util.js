// SPDX-License-Identifier: MIT
// The dashboard's small library: building DOM nodes (text only, never HTML strings: a
// variable's value or a journal path cannot inject markup), the API client (the session
// cookie, X-CSRF-Token on every change) and formatting.
'use strict';

const AP = {
	session: null,       // {user, scope, csrf}
	onUnauthorized: null // set by app.js: show the login page
};

// h('tag.class#id', {attr: value, onclick: fn}, child, ...): an element. Children are
// nodes, strings (text nodes) or arrays of them; null and false are skipped.
AP.h = function (spec, attrs, ...children) {
	const m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/i.exec(spec);
	const el = document.createElement(m[1]);
	for (const part of m[2].match(/[.#][\w-]+/g) || []) {
		if (part[0] === '.')
			el.classList.add(part.slice(1));
		else
			el.id = part.slice(1);
	}
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k.startsWith('on'))
			el.addEventListener(k.slice(2), v);
		else if (k === 'text')
			el.textContent = v;
		else if (k === 'dataset')
			Object.assign(el.dataset, v);
		else if (k === 'value' || k === 'checked' || k === 'selected')
			el[k] = v;
		else
			el.setAttribute(k, v === true ? '' : String(v));
	}
	AP.append(el, children);
	return el;
};

AP.append = function (el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false)
			continue;
		if (Array.isArray(c))
			AP.append(el, c);
		else
			el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return el;
};

AP.clear = function (el) {
	while (el.firstChild)
		el.removeChild(el.firstChild);
	return el;
};

// An SVG element: attributes are SVG presentation attributes, never style.
AP.svg = function (tag, attrs, ...children) {
	const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (k === 'text')
			el.textContent = v;
		else if (v !== null && v !== undefined)
			el.setAttribute(k, String(v));
	}
	AP.append(el, children);
	return el;
};

class ApiError extends Error {
	constructor(status, doc) {
		super((doc && (doc.detail || doc.title)) || `HTTP ${status}`);
		this.status = status;
		this.doc = doc;
	}
}
AP.ApiError = ApiError;

// A request to the admin API. Returns {status, headers, data} (data: parsed JSON, or the
// text). Throws ApiError for a status >= 400 (401: the session is gone: back to login).
AP.api = async function (method, path, body, opts) {
	opts = opts || {};
	const headers = Object.assign({Accept: 'application/json'}, opts.headers || {});
	if (method !== 'GET' && method !== 'HEAD' && AP.session)
		headers['X-CSRF-Token'] = AP.session.csrf;
	let payload;
	if (body !== undefined) {
		headers['Content-Type'] = opts.type || 'application/json';
		payload = typeof body === 'string' ? body : JSON.stringify(body);
	}
	const resp = await fetch(path, {method, headers, body: payload, credentials: 'same-origin',
					cache: 'no-store'});
	const type = resp.headers.get('Content-Type') || '';
	let data;
	if (opts.raw)
		data = await resp.arrayBuffer();
	else if (type.includes('json'))
		data = await resp.json().catch(() => null);
	else
		data = await resp.text();
	if (resp.status === 401 && !opts.noRedirect && AP.onUnauthorized)
		AP.onUnauthorized();
	if (resp.status >= 400)
		throw new ApiError(resp.status, opts.raw ? null : data);
	return {status: resp.status, headers: resp.headers, data};
};

AP.get = async function (path, opts) {
	return (await AP.api('GET', path, undefined, opts)).data;
};

AP.qs = function (params) {
	const u = new URLSearchParams();
	for (const [k, v] of Object.entries(params))
		if (v !== undefined && v !== null && v !== '')
			u.set(k, v);
	const s = u.toString();
	return s ? '?' + s : '';
};

AP.macPretty = function (mac) {
	return mac ? mac.match(/../g).join(':') : '';
};

// "2026-12-04T13:05:00Z" -> "2026-12-04 13:05:00" (UTC, as the journal keeps it)
AP.when = function (t) {
	return t ? t.replace('T', ' ').replace(/(\.\d+)?Z$/, '') : '';
};

AP.ago = function (t) {
	if (!t)
		return '';
	const s = Math.round((Date.now() - Date.parse(t)) / 1000);
	if (isNaN(s))
		return t;
	if (s < 60)
		return `${Math.max(s, 0)} s ago`;
	if (s < 3600)
		return `${Math.floor(s / 60)} min ago`;
	if (s < 86400)
		return `${Math.floor(s / 3600)} h ago`;
	return `${Math.floor(s / 86400)} d ago`;
};

AP.STATES = ['never-seen', 'provisioning', 'provisioned', 'failing', 'change-pending'];
AP.STATE_LABEL = {
	'never-seen': 'Never seen', provisioning: 'Provisioning', provisioned: 'Provisioned',
	failing: 'Failing', 'change-pending': 'Change pending'
};
AP.PROFILES = ['algo', 'fip', 'spa', 'audiocodes', 'panasonic'];

AP.badge = function (state) {
	return AP.h('span.badge.state-' + (state || 'none'), {text: AP.STATE_LABEL[state] || state || '—'});
};

let toastTimer = null;
AP.toast = function (text, bad) {
	const t = document.getElementById('toast');
	t.textContent = text;
	t.classList.toggle('bad', !!bad);
	t.classList.add('shown');
	clearTimeout(toastTimer);
	toastTimer = setTimeout(() => t.classList.remove('shown'), 4000);
};

// run fn at most once per `ms`, the last call winning
AP.debounce = function (fn, ms) {
	let timer = null;
	return (...args) => {
		clearTimeout(timer);
		timer = setTimeout(() => fn(...args), ms);
	};
};

// A field with its label: AP.field('Search', input)
AP.field = function (label, input, cls) {
	if (!input.id)
		input.id = 'f-' + Math.random().toString(36).slice(2);
	return AP.h('div.field' + (cls ? '.' + cls : ''), {},
		    AP.h('label', {for: input.id, text: label}), input);
};

AP.select = function (id, label, options, value) {
	const sel = AP.h('select#' + id, {'aria-label': label});
	for (const o of options) {
		const [v, text] = Array.isArray(o) ? o : [o, o];
		sel.append(AP.h('option', {value: v, text, selected: v === value}));
	}
	return sel;
};
