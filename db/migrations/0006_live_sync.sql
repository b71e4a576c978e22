CREATE TABLE "graph_subscriptions" (
	"subscription_id" text PRIMARY KEY NOT NULL,
	"mailbox_id" text NOT NULL,
	"client_state_hash" text NOT NULL,
	"resource" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"renewed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "mailbox_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"mailbox_id" text NOT NULL,
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "graph_subscriptions" ADD CONSTRAINT "graph_subscriptions_mailbox_id_mailboxes_id_fk" FOREIGN KEY ("mailbox_id") REFERENCES "public"."mailboxes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "graph_subscriptions_mailbox_idx" ON "graph_subscriptions" USING btree ("mailbox_id");--> statement-breakpoint
CREATE INDEX "mailbox_events_account_idx" ON "mailbox_events" USING btree ("account_id","id");--> statement-breakpoint
CREATE INDEX "mailbox_events_created_idx" ON "mailbox_events" USING btree ("created_at");