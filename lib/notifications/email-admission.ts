// An email-form request (POST /v1/emails, or a schedule's email) as admission takes it: one receiver, and
// HTML content also sent as its text rendering.
import type { AdmissionRequest } from './admission.js';
import type { Priority } from './policy.js';
import { htmlToText } from './templates.js';

export interface EmailForm {
  sender: string;
  receiver: string;
  subject: string;
  content: string;
  format: 'text' | 'html';
  priority: Priority;
  correlationId?: string | undefined;
}

export type EmailAdmission = Pick<
  AdmissionRequest,
  'userId' | 'channel' | 'priority' | 'sender' | 'recipients' | 'subject' | 'text' | 'html' | 'correlationId'
>;

export function emailAdmission(email: EmailForm): EmailAdmission {
  return {
    userId: null,
    channel: 'EMAIL',
    priority: email.priority,
    sender: email.sender,
    recipients: [email.receiver],
    subject: email.subject,
    text: email.format === 'html' ? htmlToText(email.content) : email.content,
    html: email.format === 'html' ? email.content : null,
    correlationId: email.correlationId ?? null,
  };
}
