// What the tests send: a JSON request (made with a given key, for TestApi.request), and a multipart form.

/** A request with a JSON body (none when `body` is undefined), made with `auth`'s key when given. */
export const jsonRequest = (method: string, body?: unknown, auth?: string) => ({
  method,
  headers: { 'content-type': 'application/json' },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  ...(auth ? { auth } : {}),
});

/** A multipart form with these text fields, in this order. */
export function formOf(fields: Record<string, string>): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  return form;
}
