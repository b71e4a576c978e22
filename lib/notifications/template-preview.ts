// What a recipient would see for a template and parameters, rendered by renderTemplate (the renderer
// admission uses), so a preview cannot drift from what is sent. Unlike a send, a preview tolerates missing
// parameters: each is left as its `{{name}}` placeholder and listed, so an operator sees the gaps.
import { placeholdersOf, renderTemplate, type TemplateRow } from './templates.js';

export interface TemplatePreview {
  subject: string | null;
  text: string;
  html: string | null;
  missingParams: string[];
}

/** Throws TemplateParamsError (its `unknown`) for parameters the template does not declare. */
export function previewTemplate(template: TemplateRow, params: Record<string, string | number | boolean>): TemplatePreview {
  const missingParams = placeholdersOf(template.subject, template.body).filter((name) => params[name] === undefined || params[name] === null);
  // `{{name}}` has no character HTML escaping changes, so the placeholder shows as written in every format.
  const filled = { ...params, ...Object.fromEntries(missingParams.map((name) => [name, `{{${name}}}`])) };
  return { ...renderTemplate(template, filled), missingParams };
}
