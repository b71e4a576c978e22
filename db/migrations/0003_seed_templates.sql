-- The templates of the seed examples (seeds 001 and 003). Version 1 only, and only if absent:
-- a deployment that edited them keeps its versions.
INSERT INTO "templates" ("id", "version", "channel", "subject", "body", "format", "params", "rate_limit_count", "rate_limit_window_seconds") VALUES
('ORDER_SHIPPED_CONFIRMATION', 1, 'EMAIL', 'Your order {{orderId}} has shipped',
 '<p>Hi {{name}},</p><p>Good news: your {{itemName}} (order {{orderId}}) is on its way.</p><p><a href="{{trackingUrl}}">Track your parcel</a></p><p>Thank you for shopping with us.</p>',
 'html', ARRAY['name','orderId','itemName','trackingUrl'], NULL, NULL),
('PASSWORD_RESET', 1, 'EMAIL', 'Reset your password',
 '<p>Hi {{name}},</p><p>Someone asked to reset your password. If it was you, <a href="{{resetUrl}}">choose a new password</a>; the link expires in 30 minutes.</p><p>If it was not you, ignore this email.</p>',
 'html', ARRAY['name','resetUrl'], 2, 300),
('NEW_MESSAGE', 1, 'EMAIL', 'New message from {{senderName}}',
 'Hi {{name}},\n\n{{senderName}} sent you a message:\n\n{{preview}}\n\nRead it at {{messageUrl}}', 'text',
 ARRAY['name','senderName','preview','messageUrl'], NULL, NULL),
('ORDER_SHIPPED_SMS', 1, 'SMS', NULL, 'Your order {{orderId}} has shipped. Track it: {{trackingUrl}}', 'text',
 ARRAY['orderId','trackingUrl'], NULL, NULL),
('LOGIN_CODE', 1, 'SMS', NULL, 'Your Mailflow sign-in code is {{code}}. It expires in 10 minutes.', 'text',
 ARRAY['code'], 3, 600),
('NEW_MESSAGE_PUSH', 1, 'PUSH', NULL, '{{senderName}}: {{preview}}', 'text',
 ARRAY['senderName','preview'], NULL, NULL),
('ORDER_SHIPPED_PUSH', 1, 'PUSH', NULL, 'Order {{orderId}} ({{itemName}}) is on its way', 'text',
 ARRAY['orderId','itemName'], NULL, NULL)
ON CONFLICT DO NOTHING;
