// SPDX-License-Identifier: MIT
// The dashboard's shell: the session (log in, log out), the hash router (#/fleet,
// #/devices, #/device/<mac>, #/unknown) and the live updates (one EventSource on
// /api/v1/events, or ?mac= for a device's page, its events handed to the page shown).
'use strict';

(function () {
	const $ = id => document.getElementById(id);
	let page = null;    // what the page shown returned: {event(type, data)}
	let events = null;  // the EventSource

	function showLogin(message) {
		AP.session = null;
		stopEvents();
		page = null;
		$('top').hidden = true;
		AP.clear($('page'));
		$('login').hidden = false;
		$('login-error').textContent = message || '';
		document.title = 'Log in · autoprov';
		const first = $('login-how-token').checked ? $('login-token') : $('login-user');
		first.focus();
	}
	AP.onUnauthorized = () => {
		if (AP.session)
			showLogin('The session has ended: log in again.');
	};

	function started(session) {
		AP.session = session;
		$('login').hidden = true;
		$('top').hidden = false;
		$('whoami').textContent = `${session.user} (${session.scope})`;
		document.body.classList.toggle('read-only', session.scope !== 'write');
		route();
	}

	async function login(e) {
		e.preventDefault();
		const how = $('login-how-token').checked ? 'token' : 'user';
		const body = how === 'token' ? {token: $('login-token').value.trim()}
			: {user: $('login-user').value.trim(), password: $('login-password').value};
		$('login-submit').disabled = true;
		$('login-error').textContent = '';
		try {
			const r = await AP.api('POST', '/api/v1/session', body, {noRedirect: true});
			$('login-password').value = '';
			$('login-token').value = '';
			started(r.data);
		} catch (err) {
			$('login-error').textContent = err.status === 401 ? 'Wrong credentials.' : 'Cannot log in: ' + err.message;
		}
		$('login-submit').disabled = false;
	}

	async function logout() {
		try {
			await AP.api('DELETE', '/api/v1/session', undefined, {noRedirect: true});
		} catch (e) {
			// gone already: nothing to end
		}
		if (!location.hash.startsWith('#/login'))
			history.replaceState(null, '', '#/fleet');
		showLogin('Logged out.');
	}

	function chooseHow() {
		const token = $('login-how-token').checked;
		$('login-token-fields').hidden = !token;
		$('login-user-fields').hidden = token;
	}

	// ---- live updates ----

	function setLive(on) {
		const l = $('live');
		l.textContent = on ? 'live' : 'offline';
		l.classList.toggle('on', on);
		l.classList.toggle('off', !on);
		l.title = on ? 'Pages update as things happen' : 'No live updates (reconnecting)';
	}
	// one stream at a time, the one the page shown asks for (a device's page: only its own
	// rows, ?mac=; the others: the whole fleet's)
	function startEvents(url) {
		url = url || '/api/v1/events';
		if (events && events.url.endsWith(url))
			return;
		stopEvents();
		if (!window.EventSource)
			return;
		events = new EventSource(url);
		events.onopen = () => {
			setLive(true);
			// a page that read before the stream opened reads again what it may have missed
			if (page && page.opened)
				page.opened();
		};
		// EventSource reconnects by itself; a session gone shows as errors until login
		events.onerror = () => setLive(false);
		for (const type of ['journal', 'device', 'fleet']) {
			events.addEventListener(type, ev => {
				let data = null;
				try {
					data = JSON.parse(ev.data);
				} catch (e) {
					return;
				}
				if (page && page.event)
					page.event(type, data);
			});
		}
	}
	function stopEvents() {
		if (events)
			events.close();
		events = null;
		setLive(false);
	}

	// ---- routes ----

	const ROUTES = [
		[/^\/fleet$/, 'fleet', 'Fleet', 'nav-fleet'],
		[/^\/devices$/, 'devices', 'Devices', 'nav-devices'],
		[/^\/device\/([0-9A-Fa-f:.-]+)$/, 'device', 'Device', 'nav-devices'],
		[/^\/unknown$/, 'unknown', 'Unknown devices', 'nav-unknown']
	];

	function route() {
		if (!AP.session)
			return;
		const hash = location.hash.replace(/^#/, '') || '/fleet';
		const [path, query] = hash.split('?');
		let found = ROUTES.find(r => r[0].test(path));
		if (!found) {
			history.replaceState(null, '', '#/fleet');
			found = ROUTES[0];
		}
		const [re, name, title, nav] = found;
		const m = re.exec(path) || re.exec('/fleet');
		for (const a of document.querySelectorAll('.top nav a'))
			a.removeAttribute('aria-current');
		$(nav).setAttribute('aria-current', 'page');
		document.title = `${title} · autoprov`;
		const root = AP.clear($('page'));
		root.dataset.page = name;
		page = AP.pages[name](root, new URLSearchParams(query || ''), m[1]);
		startEvents(page && page.stream);
		// keyboard users land on the page's heading
		const h1 = root.querySelector('h1');
		if (h1) {
			h1.tabIndex = -1;
			h1.focus({preventScroll: true});
		}
	}

	// the devices page keeps its filters in the address with replaceState, which fires no
	// hashchange: only a link or the history buttons route
	window.addEventListener('hashchange', route);

	document.addEventListener('DOMContentLoaded', async () => {
		$('login-form').addEventListener('submit', login);
		$('logout').addEventListener('click', logout);
		$('login-how-token').addEventListener('change', chooseHow);
		$('login-how-user').addEventListener('change', chooseHow);
		chooseHow();
		try {
			const r = await AP.api('GET', '/api/v1/session', undefined, {noRedirect: true});
			started(r.data);
		} catch (e) {
			showLogin(e.status === 401 ? '' : 'The server cannot be reached: ' + e.message);
		}
	});
})();
