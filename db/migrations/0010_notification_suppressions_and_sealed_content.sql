CREATE TYPE "public"."suppression_reason" AS ENUM('complained', 'bounced');--> statement-breakpoint
CREATE TABLE "email_suppressions" (
	"owner" text NOT NULL,
	"address" text NOT NULL,
	"reason" "suppression_reason" NOT NULL,
	"detail" text,
	"notification_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "email_suppressions_owner_address_pk" PRIMARY KEY("owner","address")
);
--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "recipients" text[];--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "content_sealed" text;--> statement-breakpoint
CREATE INDEX "email_suppressions_owner_created_idx" ON "email_suppressions" USING btree ("owner","created_at","address");--> statement-breakpoint
-- Older rows: their recipients as sent (only push tokens were ever joined with commas).
UPDATE "notifications" SET "recipients" = CASE WHEN "channel" = 'PUSH' THEN string_to_array("recipient", ',') ELSE ARRAY["recipient"] END WHERE "recipients" IS NULL;--> statement-breakpoint
-- Template parameters are never read after admission (the body is rendered then): stop keeping them in clear.
UPDATE "notifications" SET "template_params" = NULL WHERE "template_params" IS NOT NULL;
