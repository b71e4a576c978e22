ALTER TYPE "public"."mail_provider" ADD VALUE 'imap';--> statement-breakpoint
CREATE TABLE "imap_watches" (
	"mailbox_id" text PRIMARY KEY NOT NULL,
	"workflow_id" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"holder" text,
	"held_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "mailboxes" ADD COLUMN "connection" jsonb;--> statement-breakpoint
ALTER TABLE "imap_watches" ADD CONSTRAINT "imap_watches_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "imap_watches_held_until_idx" ON "imap_watches" USING btree ("held_until");