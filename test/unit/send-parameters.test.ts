/** Which of Send WhatsApp's parameters can differ between items, and which are read straight from the item. */
import { holdsExpression, itemField } from '../../nodes/SendWhatsApp/actions/parameters';

describe('Send WhatsApp parameters', () => {
	test('a parameter differs per item only if it holds an expression somewhere', () => {
		expect(holdsExpression('welcome')).toBe(false);
		expect(holdsExpression(42)).toBe(false);
		expect(holdsExpression({ parameter: [{ value: 'März' }, { value: 'x = y' }] })).toBe(false);
		expect(holdsExpression('={{ $json.phone }}')).toBe(true);
		expect(holdsExpression({ parameter: [{ value: 'März' }, { value: '={{ $json.name }}' }] })).toBe(true);
		expect(holdsExpression({ campaignKey: '=spring-{{ $now.year }}' })).toBe(true);
	});

	test('only a bare item field is read from the item; anything else goes to n8n', () => {
		expect(itemField('={{ $json.phone }}')).toBe('phone');
		expect(itemField('={{$json["phone number"]}}')).toBe('phone number');
		expect(itemField("={{ $json['phone'] }}")).toBe('phone');
		expect(itemField('={{ $json.contact.phone }}')).toBeUndefined();
		expect(itemField('={{ $json.phone }} ')).toBeUndefined();
		expect(itemField('=+49{{ $json.phone }}')).toBeUndefined();
		expect(itemField('={{ $json.phone.trim() }}')).toBeUndefined();
		expect(itemField('$json.phone')).toBeUndefined();
		expect(itemField(undefined)).toBeUndefined();
	});
});
