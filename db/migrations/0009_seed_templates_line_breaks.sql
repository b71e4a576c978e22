-- NEW_MESSAGE (seed 0003) shipped with the two characters `\n` where its text body means line breaks:
-- a standard SQL string does not read backslash escapes. Fix version 1 in place, and only while it is
-- still exactly as shipped (a deployment that edited it keeps its text). Notifications already sent keep
-- what they rendered; later sends of version 1 get real line breaks.
UPDATE "templates"
SET "body" = replace("body", '\n', E'\n')
WHERE "id" = 'NEW_MESSAGE' AND "version" = 1
  AND "body" = 'Hi {{name}},\n\n{{senderName}} sent you a message:\n\n{{preview}}\n\nRead it at {{messageUrl}}';
