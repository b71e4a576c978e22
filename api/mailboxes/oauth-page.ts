// The page a browser lands on when linking cannot finish: what went wrong, in words, and a way back.
import { html } from 'hono/html';

export function linkErrorPage(reason: string, callbackUrl?: string) {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>Mailbox not linked · Mailflow</title>
        <style>
          body {
            font-family: system-ui, sans-serif;
            max-width: 40rem;
            margin: 4rem auto;
            padding: 0 1rem;
            line-height: 1.5;
          }
          h1 {
            font-size: 1.4rem;
          }
        </style>
      </head>
      <body>
        <h1 id="link-error">The mailbox was not linked</h1>
        <p id="link-error-reason">${reason}</p>
        ${callbackUrl ? html`<p><a id="back" href="${callbackUrl}">Back to the application</a></p>` : ''}
      </body>
    </html>`;
}
