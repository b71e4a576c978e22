-- Tenants own resources; API keys become credentials of a tenant. Each existing key becomes a tenant of its
-- own whose id is the key's id, and the admin key's resources belong to the tenant "admin": every resource's
-- `owner` already holds exactly these ids, so nothing moves and nothing changes for current users.
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"disabled_at" timestamp with time zone,
	"disabled_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
INSERT INTO "tenants" ("id", "name") VALUES ('admin', 'admin');--> statement-breakpoint
INSERT INTO "tenants" ("id", "name", "created_at") SELECT "id", "name", "created_at" FROM "api_keys";--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "tenant_id" text;--> statement-breakpoint
UPDATE "api_keys" SET "tenant_id" = "id";--> statement-breakpoint
ALTER TABLE "api_keys" ALTER COLUMN "tenant_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_tenant_idx" ON "api_keys" USING btree ("tenant_id","created_at");--> statement-breakpoint
-- A pending sign-in remembers the credential that started it (before tenants, the owner was that key).
ALTER TABLE "oauth_states" ADD COLUMN "credential" text;--> statement-breakpoint
UPDATE "oauth_states" SET "credential" = "owner";--> statement-breakpoint
ALTER TABLE "oauth_states" ALTER COLUMN "credential" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "oauth_states" ADD COLUMN "expected_address" text;--> statement-breakpoint
-- The live feed numbers events per account. Existing events keep their global id as their number (it
-- increases per account too), so a client's Last-Event-ID stays valid, and each account's counter starts
-- after its last event.
CREATE TABLE "account_event_seqs" (
	"account_id" text PRIMARY KEY NOT NULL,
	"last_seq" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "mailbox_events" ADD COLUMN "seq" bigint;--> statement-breakpoint
UPDATE "mailbox_events" SET "seq" = "id";--> statement-breakpoint
ALTER TABLE "mailbox_events" ALTER COLUMN "seq" SET NOT NULL;--> statement-breakpoint
INSERT INTO "account_event_seqs" ("account_id", "last_seq") SELECT "account_id", max("id") FROM "mailbox_events" GROUP BY "account_id";--> statement-breakpoint
DROP INDEX "mailbox_events_account_idx";--> statement-breakpoint
CREATE UNIQUE INDEX "mailbox_events_account_seq_idx" ON "mailbox_events" USING btree ("account_id","seq");
