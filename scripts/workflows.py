"""Writes the sample workflows in workflows/ (n8n's export format). Edit here, run `python3 scripts/workflows.py`."""
import json, uuid, pathlib

PKG = 'n8n-nodes-whatsapp-consent'
LEDGER = {'consentLedgerApi': {'id': 'consent-ledger', 'name': 'Consent Ledger'}}
WHATSAPP = {'whatsAppCloudApi': {'id': 'whatsapp-cloud-api', 'name': 'WhatsApp Cloud API'}}
OUT = pathlib.Path(__file__).resolve().parent.parent / 'workflows'


def node(name, type_, version, position, parameters, credentials=None, **extra):
    n = {'parameters': parameters, 'id': str(uuid.uuid5(uuid.NAMESPACE_URL, f'{type_}/{name}')), 'name': name,
         'type': type_, 'typeVersion': version, 'position': position}
    if credentials:
        n['credentials'] = credentials
    n.update(extra)
    return n


def ours(name, kind, position, parameters, credentials, version=1, **extra):
    return node(name, f'{PKG}.{kind}', version, position, parameters, credentials, **extra)


def settings(position, fields):
    return node('Settings', 'n8n-nodes-base.set', 3.4, position, {
        'mode': 'manual',
        'assignments': {'assignments': [
            {'id': str(uuid.uuid5(uuid.NAMESPACE_URL, k)), 'name': k, 'value': v, 'type': 'string'} for k, v in fields.items()]},
        'includeOtherFields': True,
        'options': {},
    })


def http_post(name, position, url_field, body):
    return node(name, 'n8n-nodes-base.httpRequest', 4.2, position, {
        'method': 'POST',
        'url': f"={{{{ $('Settings').item.json.{url_field} }}}}",
        'sendBody': True,
        'specifyBody': 'json',
        'jsonBody': body,
        'options': {},
    })


def equals_rule(key, value):
    return {
        'conditions': {
            'options': {'caseSensitive': True, 'leftValue': '', 'typeValidation': 'strict', 'version': 2},
            'conditions': [{'id': str(uuid.uuid5(uuid.NAMESPACE_URL, value)), 'leftValue': f'={{{{ $json.{key} }}}}',
                            'rightValue': value, 'operator': {'type': 'string', 'operation': 'equals'}}],
            'combinator': 'and',
        },
        'renameOutput': True,
        'outputKey': value,
    }


def service_reply(name, position, to='={{ $json.reply.to }}', text='={{ $json.reply.text }}', category='service', options=None):
    return ours(name, 'sendWhatsApp', position, {
        'operation': 'sendText', 'text': text, 'recipient': to, 'category': category, 'options': options or {},
    }, {**WHATSAPP, **LEDGER})


def connect(*edges):
    connections = {}
    for source, output, target in edges:
        outputs = connections.setdefault(source, {'main': []})['main']
        while len(outputs) <= output:
            outputs.append([])
        outputs[output].append({'node': target, 'type': 'main', 'index': 0})
    return connections


def workflow(name, nodes, connections, note):
    return {'name': name, 'nodes': nodes, 'connections': connections, 'active': False,
            'settings': {'executionOrder': 'v1'}, 'meta': {'description': note}, 'pinData': {}}


SETTINGS = {
    'crmUrl': 'http://127.0.0.1:8787/_sandbox/echo/crm',
    'newsletterUrl': 'http://127.0.0.1:8787/_sandbox/echo/newsletter',
    'helpdeskUrl': 'http://127.0.0.1:8787/_sandbox/echo/helpdesk',
}

inbox = workflow('WhatsApp consent inbox: double opt-in, STOP and helpdesk', [
    ours('Opt-In Trigger', 'optInTrigger', [0, 300], {
        'path': 'whatsapp-consent',
        'businessName': 'Beispiel GmbH',
        'businessNumber': '+49 30 1234567',
        'purposes': {'purpose': [
            {'id': 'offers', 'label': 'Angebote und Neuigkeiten', 'description': 'Höchstens eine Nachricht pro Woche'},
            {'id': 'order-updates', 'label': 'Bestell- und Lieferstatus', 'description': ''},
        ]},
        'privacyUrl': 'https://example.com/datenschutz',
        'options': {},
    }, {**LEDGER, **WHATSAPP}, webhookId='whatsapp-consent'),
    settings([220, 300], SETTINGS),
    node('Route by Event', 'n8n-nodes-base.switch', 3.2, [440, 300], {
        'rules': {'values': [equals_rule('event', e) for e in ['optin.confirmed', 'optin.refused', 'consent.withdrawn', 'message.received']]},
        'options': {},
    }),
    service_reply('Send Welcome', [700, 0]),
    http_post('Add to CRM', [920, 0], 'crmUrl',
              '={{ JSON.stringify({ phone: $json.whatsapp.recipient, whatsappOptIn: true, purposes: $(\'Route by Event\').item.json.purposes, confirmedAt: $(\'Route by Event\').item.json.at }) }}'),
    node('Has Reply?', 'n8n-nodes-base.if', 2.2, [700, 200], {
        'conditions': {
            'options': {'caseSensitive': True, 'leftValue': '', 'typeValidation': 'loose', 'version': 2},
            'conditions': [{'id': 'has-reply', 'leftValue': '={{ $json.reply?.text }}', 'rightValue': '',
                            'operator': {'type': 'string', 'operation': 'notEmpty', 'singleValue': True}}],
            'combinator': 'and',
        },
        'options': {},
    }),
    service_reply('Reply With Hint', [920, 200]),
    ours('Handle STOP', 'handleStop', [700, 450], {
        'businessName': 'Beispiel GmbH', 'signupUrl': 'https://example.com/whatsapp',
        'options': {'language': 'de', 'receives': 'Angebote und Neuigkeiten, höchstens eine Nachricht pro Woche'},
    }, LEDGER, version=2),
    service_reply('Confirm Withdrawal', [960, 350], category='withdrawal_confirmation'),
    http_post('Update CRM', [1180, 350], 'crmUrl',
              '={{ JSON.stringify({ phone: $json.whatsapp.recipient, whatsappOptIn: false, withdrawnAt: $now.toISO() }) }}'),
    http_post('Unsubscribe From Newsletter', [1400, 350], 'newsletterUrl',
              '={{ JSON.stringify({ phone: $(\'Update CRM\').item.json.phone ?? $(\'Confirm Withdrawal\').item.json.whatsapp.recipient, channel: "whatsapp", unsubscribed: true }) }}'),
    service_reply('Send Sign-Up Link', [960, 500]),
    http_post('Open Helpdesk Ticket', [960, 650], 'helpdeskUrl',
              '={{ JSON.stringify({ from: $json.waId, name: $json.profileName, text: $json.message.text, receivedAt: $json.at }) }}'),
    # One answer per HELP message: the campaign key Handle STOP gives each message.
    service_reply('Send Help', [960, 800], options={'campaignKey': '={{ $json.reply.campaignKey }}'}),
    http_post('Ask a Person to Confirm Withdrawal', [960, 950], 'helpdeskUrl',
              '={{ JSON.stringify({ from: $json.waId, name: $json.profileName, text: $json.message.text, receivedAt: $json.at, '
              'priority: "urgent", subject: "Probably a withdrawal: record it now (Consent Ledger → Record Withdrawal)" }) }}'),
], connect(
    ('Opt-In Trigger', 0, 'Settings'),
    ('Settings', 0, 'Route by Event'),
    ('Route by Event', 0, 'Send Welcome'),
    ('Send Welcome', 0, 'Add to CRM'),
    ('Route by Event', 1, 'Has Reply?'),
    ('Has Reply?', 0, 'Reply With Hint'),
    ('Route by Event', 2, 'Handle STOP'),
    ('Route by Event', 3, 'Handle STOP'),
    ('Handle STOP', 0, 'Confirm Withdrawal'),
    ('Confirm Withdrawal', 0, 'Update CRM'),
    ('Update CRM', 0, 'Unsubscribe From Newsletter'),
    ('Handle STOP', 1, 'Send Sign-Up Link'),
    ('Handle STOP', 2, 'Open Helpdesk Ticket'),
    ('Handle STOP', 3, 'Send Help'),
    ('Handle STOP', 4, 'Ask a Person to Confirm Withdrawal'),
), 'The sign-up widget and Meta webhooks on one URL. Confirmed opt-ins get a welcome and go to the CRM; STOP is '
   'confirmed once and passed to the CRM and the newsletter tool; START gets a sign-up link; HELP gets the help text; '
   'a sentence that probably withdraws becomes an urgent ticket for a person to confirm; other messages become '
   'helpdesk tickets. Point Settings at your CRM, newsletter and helpdesk.')

newsletter = workflow('WhatsApp newsletter to consented subscribers', [
    node('Every Monday at 10', 'n8n-nodes-base.scheduleTrigger', 1.2, [0, 300], {
        'rule': {'interval': [{'field': 'weeks', 'triggerAtDay': [1], 'triggerAtHour': 10}]},
    }),
    ours('Get Subscribers', 'consentLedger', [220, 300], {
        'resource': 'subscriber', 'operation': 'getAll', 'purpose': 'offers', 'category': 'marketing', 'returnAll': True,
    }, LEDGER),
    ours('Send Newsletter', 'sendWhatsApp', [440, 300], {
        'operation': 'sendTemplate',
        'templateName': 'newsletter',
        'language': 'de',
        'parameterFormat': 'positional',
        'headerParameters': {'parameter': [{'value': "={{ $now.setLocale('de').toFormat('LLLL') }}"}]},
        'bodyParameters': {'parameter': [{'value': 'zusammen'}, {'value': 'unsere neuen Angebote sind da.'}]},
        'buttons': {'button': [{'subType': 'quick_reply', 'index': 0, 'parameter': 'Stop promotions'}]},
        'recipient': '={{ $json.phone }}',
        'category': 'marketing',
        'purpose': 'offers',
        'options': {'campaignKey': "=newsletter-{{ $now.toFormat('kkkk-WW') }}", 'messagesPerSecond': 80},
    }, {**WHATSAPP, **LEDGER}),
], connect(('Every Monday at 10', 0, 'Get Subscribers'), ('Get Subscribers', 0, 'Send Newsletter')),
    'Sends the weekly newsletter template to everyone who may receive offers now. Each subscriber gets it once per '
    'week (the campaign key), a STOP sent during the run still stops the remaining sends, and Meta\'s limits are kept.')

crm = workflow('CRM order update over WhatsApp', [
    node('CRM Webhook', 'n8n-nodes-base.webhook', 2, [0, 300], {
        'httpMethod': 'POST', 'path': 'crm-order-update', 'responseMode': 'responseNode', 'options': {},
    }, webhookId='crm-order-update'),
    ours('Verify Consent', 'verifyConsent', [220, 300], {
        'recipient': '={{ $json.body.phone }}', 'purpose': 'order-updates', 'category': 'utility', 'decisionField': 'consent',
    }, LEDGER),
    ours('Send Order Update', 'sendWhatsApp', [460, 200], {
        'operation': 'sendTemplate',
        'templateName': 'order_update',
        'language': 'de',
        'parameterFormat': 'named',
        'bodyParameters': {'parameter': [
            {'name': 'first_name', 'value': '={{ $json.body.firstName }}'},
            {'name': 'order_id', 'value': '={{ $json.body.orderId }}'},
            {'name': 'status', 'value': '={{ $json.body.status }}'},
        ]},
        'recipient': '={{ $json.body.phone }}',
        'category': 'utility',
        'purpose': 'order-updates',
        'options': {'campaignKey': '={{ $json.body.orderId }}-{{ $json.body.status }}'},
    }, {**WHATSAPP, **LEDGER}),
    node('Answer CRM', 'n8n-nodes-base.respondToWebhook', 1.1, [700, 300], {
        'respondWith': 'json',
        'responseBody': '={{ JSON.stringify({ sent: $json.whatsapp?.status === "sent", whatsapp: $json.whatsapp ?? null, consent: $json.consent ?? null }) }}',
        'options': {},
    }),
], connect(
    ('CRM Webhook', 0, 'Verify Consent'),
    ('Verify Consent', 0, 'Send Order Update'),
    ('Verify Consent', 1, 'Answer CRM'),
    ('Send Order Update', 0, 'Answer CRM'),
    ('Send Order Update', 1, 'Answer CRM'),
), 'Your CRM posts {phone, firstName, orderId, status}; the order update goes out only to people who consented to '
   'order updates, and the CRM gets the outcome (sent, or why not).')

rights = workflow('Data-subject requests and retention', [
    node('Every Night at 3', 'n8n-nodes-base.scheduleTrigger', 1.2, [0, 100], {
        'rule': {'interval': [{'field': 'days', 'triggerAtHour': 3}]},
    }),
    ours('Purge Expired Data', 'consentLedger', [220, 100], {'resource': 'ledger', 'operation': 'purge'}, LEDGER),
    ours('Verify Audit Chain', 'consentLedger', [440, 100], {'resource': 'ledger', 'operation': 'verify'}, LEDGER),
    node('Request Webhook', 'n8n-nodes-base.webhook', 2, [0, 400], {
        'httpMethod': 'POST', 'path': 'data-subject-request', 'responseMode': 'responseNode', 'options': {},
    }, webhookId='data-subject-request'),
    settings([220, 400], SETTINGS),
    node('Export or Erase?', 'n8n-nodes-base.switch', 3.2, [440, 400], {
        'rules': {'values': [equals_rule('body.request', 'export'), equals_rule('body.request', 'erase')]},
        'options': {},
    }),
    ours('Export Person', 'consentLedger', [660, 300], {
        'resource': 'person', 'operation': 'export', 'recipient': '={{ $json.body.phone }}',
        'requestedBy': '={{ $json.body.requestedBy }}', 'businessName': 'Beispiel GmbH',
    }, LEDGER),
    ours('Erase Person', 'consentLedger', [660, 500], {
        'resource': 'person', 'operation': 'erase', 'recipient': '={{ $json.body.phone }}',
        'reason': '={{ $json.body.reason }}', 'retainProofForLegalClaims': False,
    }, LEDGER),
    http_post('Tell CRM', [880, 500], 'crmUrl', '={{ JSON.stringify({ phone: $json.recipient, erase: true }) }}'),
    node('Answer Request', 'n8n-nodes-base.respondToWebhook', 1.1, [1100, 400], {
        'respondWith': 'json',
        'responseBody': "={{ JSON.stringify({ done: true, request: $('Request Webhook').item.json.body.request }) }}",
        'options': {},
    }),
], connect(
    ('Every Night at 3', 0, 'Purge Expired Data'),
    ('Purge Expired Data', 0, 'Verify Audit Chain'),
    ('Request Webhook', 0, 'Settings'),
    ('Settings', 0, 'Export or Erase?'),
    ('Export or Erase?', 0, 'Export Person'),
    ('Export or Erase?', 1, 'Erase Person'),
    ('Erase Person', 0, 'Tell CRM'),
    ('Export Person', 0, 'Answer Request'),
    ('Tell CRM', 0, 'Answer Request'),
), 'Nightly: deletes unconfirmed sign-ups and expired proof, then proves the audit chain intact. On request: '
   'exports a person (JSON, CSV, printable proof page) or erases them and tells the CRM.')

for file, wf in [('whatsapp-consent-inbox.json', inbox), ('newsletter.json', newsletter), ('crm-order-update.json', crm),
                 ('data-subject-requests.json', rights)]:
    (OUT / file).write_text(json.dumps(wf, indent=2, ensure_ascii=False) + '\n')
    print('wrote', file)
