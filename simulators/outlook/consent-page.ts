// The pages a browser sees during sign-in: the consent page (accept or deny, choosing the account),
// error pages, and the self-submitting form of response_mode=form_post. Plain HTML, no scripts except
// form_post's, so browser tests can drive it with #account, #accept and #deny.

const escape = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}
.box{border:1px solid #ccc;border-radius:6px;padding:1.5rem}li{margin:.2rem 0}.error{color:#a4262c}
button{padding:.5rem 1.2rem;margin-right:.5rem}#accept{background:#0067b8;color:#fff;border:0}</style></head>
<body><div class="box">${body}</div></body></html>`;

export interface ConsentView {
  action: string;
  /** The authorize query, carried through the form as hidden fields. */
  params: Record<string, string>;
  clientId: string;
  scopes: string[];
  accounts: string[];
  selected?: string;
  /** Any address may sign in (autoCreateMailboxes): offer a field for one not in the list. */
  allowOther?: boolean;
  error?: string;
}

export function consentPage(view: ConsentView): string {
  const hidden = Object.entries(view.params)
    .filter(([k]) => !['account', 'other', 'action'].includes(k))
    .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`)
    .join('\n');
  const options = view.accounts.map((a) => `<option value="${escape(a)}"${a === view.selected ? ' selected' : ''}>${escape(a)}</option>`).join('');
  const canAccept = view.accounts.length > 0;
  return page(
    'Sign in to Outlook (simulated)',
    `
<h1>Sign in to Outlook (simulated)</h1>
${view.error ? `<p class="error" id="error">${escape(view.error)}</p>` : ''}
<p>The app <strong id="client">${escape(view.clientId)}</strong> would like to:</p>
<ul id="scopes">${view.scopes.map((s) => `<li>${escape(s)}</li>`).join('')}</ul>
<form method="post" action="${escape(view.action)}">
${hidden}
<p><label for="account">Sign in as</label>
<select id="account" name="account"${canAccept ? '' : ' disabled'}>${options}</select></p>
${view.allowOther ? '<p><label for="other">or another address</label> <input id="other" name="other" type="email" placeholder="someone@contoso.com"></p>' : ''}
<p><button type="submit" id="accept" name="action" value="accept"${canAccept ? '' : ' disabled'}>Accept</button>
<button type="submit" id="deny" name="action" value="deny">Cancel</button></p>
</form>`,
  );
}

export function errorPage(code: string, message: string): string {
  return page(
    'Sign in to Outlook (simulated): error',
    `<h1>Sorry, but we're having trouble signing you in.</h1>
<p class="error" id="error" data-error="${escape(code)}">${escape(message)}</p>`,
  );
}

export function formPostPage(redirectUri: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`)
    .join('');
  return `<!doctype html><html><body onload="document.forms[0].submit()"><form method="post" action="${escape(redirectUri)}">${inputs}<noscript><button>Continue</button></noscript></form></body></html>`;
}
