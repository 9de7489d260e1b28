import {toE164,normalizeRecipient,numberForms,numberOfWaId,waIdMatches} from '/work/main/lib/phone';
for (const n of ['+551187654321','+55 11 98765-4321','+5215512345678','+52 55 1234 5678','+541123456789','+54 9 11 2345-6789','+49 (0)151 12345678']) { try { console.log(n, toE164(n,'DE'), normalizeRecipient(n,'DE'), numberForms(toE164(n,'DE'))) } catch(e) { console.log(n, 'ERR', (e as Error).message) } }
console.log(numberOfWaId('551187654321'), numberOfWaId('5215512345678'), numberOfWaId('541123456789'), waIdMatches('+5511987654321','551187654321'));
