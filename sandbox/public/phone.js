// The phone page: plays the customer against the local sandbox by polling its control API.
// Only textContent is used for what the business or the customer wrote, so no message can inject markup.
(function () {
	'use strict';

	const state = { waId: '', name: '', lastRendered: '' };
	const $ = (id) => document.getElementById(id);

	async function api(method, path, body) {
		const response = await fetch('/_sandbox/' + path, {
			method,
			headers: body ? { 'Content-Type': 'application/json' } : {},
			body: body ? JSON.stringify(body) : undefined,
		});
		const data = await response.json();
		if (!response.ok) throw new Error(data.error || 'The sandbox answered ' + response.status);
		return data;
	}

	function showError(error) {
		$('error').textContent = error ? error.message : '';
	}

	function el(tag, className, text) {
		const node = document.createElement(tag);
		if (className) node.className = className;
		if (text !== undefined) node.textContent = text;
		return node;
	}

	function time(iso) {
		return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
	}

	async function sendInbound(part) {
		showError();
		try {
			await api('POST', 'inbound', Object.assign({ from: state.waId }, state.name ? { name: state.name } : {}, part));
			await refreshChat();
		} catch (error) {
			showError(error);
		}
	}

	function tapButton(label, onTap) {
		const button = el('button', 'reply-button', label);
		button.type = 'button';
		button.addEventListener('click', onTap);
		return button;
	}

	function renderTemplate(bubble, template) {
		if (template.header) bubble.append(el('p', 'bubble-header', template.header));
		if (template.headerMedia) bubble.append(el('p', 'bubble-media', template.headerMedia));
		bubble.append(el('p', 'bubble-text', template.body));
		if (template.footer) bubble.append(el('p', 'bubble-footer', template.footer));
		const buttons = el('div', 'bubble-buttons');
		for (const button of template.buttons) {
			if (button.type === 'quick_reply') {
				buttons.append(tapButton(button.text, () => sendInbound({ button: { payload: button.payload, text: button.text } })));
			} else {
				const link = el('span', 'link-button', button.text);
				link.title = button.url || button.type;
				buttons.append(link);
			}
		}
		if (template.buttons.length > 0) bubble.append(buttons);
		bubble.append(el('p', 'bubble-meta', 'Template ' + template.name + ' (' + template.language + ', ' + template.category.toLowerCase() + ')'));
	}

	function renderInteractive(bubble, interactive) {
		if (interactive.header) bubble.append(el('p', 'bubble-header', interactive.header));
		bubble.append(el('p', 'bubble-text', interactive.body));
		if (interactive.footer) bubble.append(el('p', 'bubble-footer', interactive.footer));
		const buttons = el('div', 'bubble-buttons');
		for (const button of interactive.buttons || []) {
			buttons.append(tapButton(button.title, () => sendInbound({ interactive: { id: button.id, title: button.title } })));
		}
		if (interactive.list) {
			// The list button opens the rows, as WhatsApp's modal does; tapping a row answers with a list reply.
			const rows = el('div', 'bubble-list');
			rows.hidden = true;
			for (const section of interactive.list.sections) {
				if (section.title) rows.append(el('p', 'bubble-meta', section.title));
				for (const row of section.rows) {
					const label = row.description ? row.title + ' — ' + row.description : row.title;
					rows.append(tapButton(label, () => sendInbound({ interactive: Object.assign({ id: row.id, title: row.title }, row.description ? { description: row.description } : {}) })));
				}
			}
			buttons.append(tapButton('☰ ' + interactive.list.button, () => (rows.hidden = !rows.hidden)));
			bubble.append(buttons, rows);
			return;
		}
		if (interactive.cta) {
			const link = el('a', 'link-button', '↗ ' + interactive.cta.displayText);
			link.href = interactive.cta.url;
			link.target = '_blank';
			link.rel = 'noopener noreferrer';
			link.title = interactive.cta.url;
			buttons.append(link);
		}
		if (interactive.kind === 'location_request') {
			// The sandbox customer shares a fixed place; Meta's webhook carries it as a location message.
			buttons.append(tapButton('📍 Send location', () => sendInbound({ location: { latitude: 52.520008, longitude: 13.404954, name: 'Alexanderplatz', address: 'Berlin' } })));
		}
		// Meta's contact info request: WhatsApp's own button shares the customer's number.
		if (interactive.requestsContactInfo) buttons.append(tapButton('Share phone number', () => sendInbound({ shareContact: true })));
		bubble.append(buttons);
	}

	function describe(message) {
		if (message.text !== undefined) return message.text;
		if (message.button) return message.button.text;
		if (message.buttonReply) return message.buttonReply.title;
		if (message.listReply) return message.listReply.title;
		if (message.location) return '📍 ' + [message.location.name, message.location.latitude + ', ' + message.location.longitude].filter(Boolean).join(' · ');
		if (message.media) {
			const upload = message.media.upload ? ' (uploaded ' + message.media.upload.mimeType + ', ' + Math.ceil(message.media.upload.bytes / 1024) + ' KB)' : '';
			return '[' + message.media.type + '] ' + (message.media.caption || message.media.filename || message.media.link || message.media.id || '') + upload;
		}
		if (message.reaction) return message.reaction.emoji ? 'Reacted ' + message.reaction.emoji : 'Removed the reaction';
		return '[' + message.type + ']';
	}

	function renderMessage(message) {
		const item = el('li', 'bubble ' + (message.direction === 'in' ? 'from-customer' : 'from-business'));
		if (message.template) renderTemplate(item, message.template);
		else if (message.interactive) renderInteractive(item, message.interactive);
		else item.append(el('p', 'bubble-text', describe(message)));
		let meta = time(message.at);
		if (message.direction === 'in') meta += message.status === 'read' ? ' · read by the business' : '';
		if (message.status === 'failed') meta += ' · failed (' + message.errorCode + ')';
		item.append(el('p', 'bubble-time', meta));
		return item;
	}

	async function refreshChat() {
		if (!state.waId) return;
		const chat = await api('GET', 'chats/' + state.waId);
		$('marketing').checked = chat.marketing !== 'stop';
		$('window-state').textContent = chat.serviceWindowOpenUntil
			? 'Service window open until ' + time(chat.serviceWindowOpenUntil)
			: 'Service window closed: the business can only send templates';
		if (chat.typing) $('window-state').textContent += ' · the business is typing…';
		const fingerprint = JSON.stringify(chat.messages);
		if (fingerprint === state.lastRendered) return;
		state.lastRendered = fingerprint;
		const list = $('chat');
		const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
		list.replaceChildren(...chat.messages.map(renderMessage));
		if (atBottom) list.scrollTop = list.scrollHeight;
	}

	async function refreshCustomers() {
		const { chats } = await api('GET', 'chats');
		const list = $('customer-list');
		list.replaceChildren(
			...chats.map((chat) => {
				const item = el('li');
				const label = chat.name + ' · +' + chat.waId + (chat.username ? ' · @' + chat.username + ' (number hidden)' : '');
				const button = el('button', chat.waId === state.waId ? 'customer active' : 'customer', label);
				button.type = 'button';
				button.addEventListener('click', () => openChat(chat.waId, chat.name));
				item.append(button);
				return item;
			}),
		);
	}

	function openChat(waId, name) {
		state.waId = waId.replace(/\D/g, '');
		state.name = name || '';
		state.lastRendered = '';
		location.hash = state.waId;
		$('empty').hidden = true;
		$('chat').hidden = false;
		$('composer').hidden = false;
		$('settings').hidden = false;
		refreshChat().then(refreshCustomers).catch(showError);
	}

	$('pick').addEventListener('submit', (event) => {
		event.preventDefault();
		openChat($('pick-number').value, $('pick-name').value.trim());
	});

	$('composer').addEventListener('submit', (event) => {
		event.preventDefault();
		const text = $('message').value.trim();
		if (!text) return;
		$('message').value = '';
		sendInbound({ text });
	});

	$('marketing').addEventListener('change', async (event) => {
		showError();
		try {
			await api('POST', 'preferences', { waId: state.waId, value: event.target.checked ? 'resume' : 'stop' });
		} catch (error) {
			showError(error);
		}
	});

	api('GET', 'config')
		.then((config) => {
			$('business-name').textContent = config.verifiedName;
			$('business-number').textContent = config.displayPhoneNumber;
		})
		.catch(showError);

	if (location.hash.length > 1) openChat(location.hash.slice(1));
	refreshCustomers().catch(showError);
	setInterval(() => {
		refreshChat().catch(showError);
	}, 1000);
	setInterval(() => {
		refreshCustomers().catch(showError);
	}, 3000);
})();
