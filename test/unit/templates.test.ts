import { describe, expect, it } from 'vitest';
import { htmlToText, placeholdersOf, renderTemplate, TemplateParamsError, type TemplateRow } from '../../lib/notifications/templates.js';

const html: TemplateRow = {
  id: 'ORDER_SHIPPED_CONFIRMATION',
  version: 1,
  channel: 'EMAIL',
  subject: 'Order {{orderId}} shipped',
  format: 'html',
  body: '<p>Hi {{ name }}, your {{itemName}} is on its way.</p>',
  params: ['name', 'orderId', 'itemName'],
  rateLimitCount: null,
  rateLimitWindowSeconds: null,
};

describe('renderTemplate', () => {
  it('fills subject and body, escaping parameters in HTML and giving a text alternative', () => {
    const out = renderTemplate(html, { name: '<script>alert(1)</script>', orderId: 'A&B', itemName: 'Laptop' });
    expect(out.subject).toBe('Order A&B shipped');
    expect(out.html).toBe('<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;, your Laptop is on its way.</p>');
    expect(out.text).toBe('Hi <script>alert(1)</script>, your Laptop is on its way.');
  });

  it('leaves text templates unescaped and renders numbers and booleans', () => {
    const sms: TemplateRow = { ...html, channel: 'SMS', subject: null, format: 'text', body: 'Code {{code}} ({{ok}}) & more', params: ['code', 'ok'] };
    expect(renderTemplate(sms, { code: 123456, ok: true })).toEqual({ subject: null, text: 'Code 123456 (true) & more', html: null });
  });

  it('names every missing and unknown parameter', () => {
    try {
      renderTemplate(html, { name: 'Jane', colour: 'red', size: 2 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TemplateParamsError);
      expect((error as TemplateParamsError).missing).toEqual(['orderId', 'itemName']);
      expect((error as TemplateParamsError).unknown).toEqual(['colour', 'size']);
    }
  });

  it('finds placeholders with or without inner spaces, once each', () => {
    expect(placeholdersOf('{{a}} {{ b }} {{a}}', null, 'x {{c_1}}')).toEqual(['a', 'b', 'c_1']);
    expect(htmlToText('<p>One &amp; two</p><p>Three<br>four</p>')).toBe('One & two\nThree\nfour');
  });
});
